#!/usr/bin/env python3
"""Build the project's sample openEuler-style RPM repository from Debian bookworm debs.

    samples/mkrepo.py --out build/sample-repo --release 24.03-LTS

Debian packages named in samples/packages.yaml are downloaded for amd64 and arm64
with a private apt state (build/debian/), repackaged unchanged by rpmbuild into
openEuler-named RPMs (cached in build/sample-rpms/), and laid out as
openEuler-<release>/{OS,everything,EPOL/main,update}/{x86_64,aarch64} with
createrepo_c metadata. Unchanged inputs rebuild nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _mkrepo_apt  # noqa: E402
import _mkrepo_build  # noqa: E402
import _mkrepo_layout  # noqa: E402
from _mkrepo_catalog import Catalog, SampleRepoError, load_catalog  # noqa: E402

HERE = Path(__file__).resolve().parent


def _distribution(release: str) -> tuple[str, str]:
    """('openEuler 24.03-LTS', 'oe2403') for '24.03-LTS'."""
    match = re.match(r"^(\d+)\.(\d+)(-[A-Za-z0-9-]+)?$", release)
    if not match:
        raise SampleRepoError(f"--release {release!r}: expected a release like 24.03-LTS")
    return f"openEuler {release}", f"oe{int(match.group(1)):02d}{int(match.group(2)):02d}"


def _fetch_all(catalog: Catalog, work: Path, refresh: bool,
               ) -> dict[str, dict[str, _mkrepo_apt.DebFile]]:
    """RPM arch -> deb name -> downloaded deb, for every deb the catalog names."""
    sources = _mkrepo_apt.parse_sources(_mkrepo_apt.machine_sources())
    owners = {deb: spec.name for spec in catalog.packages for deb in spec.all_debs()}
    names = list(dict.fromkeys(owners))
    fetched = {}
    for arch in _mkrepo_layout.ARCHES:
        deb_arch = _mkrepo_apt.DEB_ARCH[arch]
        apt = _mkrepo_apt.AptState(work / "debian" / deb_arch, work / "debian" / "pool",
                                   deb_arch, sources)
        if apt.ensure_lists(refresh):
            print(f"apt-get update ({deb_arch}) done")
        try:
            fetched[arch] = apt.fetch(names)
        except SampleRepoError as exc:
            # name the catalog entry that asked for the missing deb
            match = re.search(r"package '?([a-z0-9][a-z0-9+.-]+)", str(exc))
            if match and match.group(1) in owners:
                raise SampleRepoError(f"package {owners[match.group(1)]!r}: {exc}") from exc
            raise
    return fetched


def _jobs(catalog: Catalog, fetched: dict[str, dict[str, _mkrepo_apt.DebFile]],
          distribution: str) -> tuple[list[_mkrepo_build.BuildJob], list[_mkrepo_build.BuildJob]]:
    """Jobs for the OS repository and for the update repository."""
    os_jobs: list[_mkrepo_build.BuildJob] = []
    update_jobs: list[_mkrepo_build.BuildJob] = []
    updates = dict(catalog.updates)
    for spec in catalog.packages:
        first = fetched[_mkrepo_layout.ARCHES[0]]
        noarch = all(first[deb].arch == "all" for deb in spec.debs)
        for arch in ("noarch",) if noarch else _mkrepo_layout.ARCHES:
            debs = fetched[_mkrepo_layout.ARCHES[0] if noarch else arch]
            job = _mkrepo_build.BuildJob(
                spec=spec, arch=arch,
                debs=tuple(debs[d] for d in spec.debs),
                license_debs=tuple(debs[d] for d in spec.license_from),
                release_tag=catalog.release_tag, distribution=distribution,
            )
            os_jobs.append(job)
            if spec.name in updates:
                update_jobs.append(_mkrepo_build.BuildJob(
                    spec=spec, arch=arch, debs=job.debs, license_debs=job.license_debs,
                    release_tag=catalog.release_tag, distribution=distribution,
                    suffix=updates[spec.name],
                ))
    return os_jobs, update_jobs


def _versions(release: str, os_rpms: list[_mkrepo_build.BuiltRpm],
              update_rpms: list[_mkrepo_build.BuiltRpm]) -> dict[str, object]:
    """The versions.json document: every RPM with the exact Debian packages inside."""
    def entry(built: _mkrepo_build.BuiltRpm) -> dict[str, object]:
        return {
            "rpm": built.path.name,
            "evr": str(built.job.evr),
            "debs": {d.name: {"version": d.version, "arch": d.arch, "sha256": d.sha256}
                     for d in built.job.debs + built.job.license_debs},
        }

    doc: dict[str, object] = {"release": release, "debian": "bookworm"}
    for repo, rpms in (("OS", os_rpms), ("update", update_rpms)):
        per_arch: dict[str, dict[str, object]] = {}
        for built in rpms:
            per_arch.setdefault(built.job.arch, {})[built.job.spec.name] = entry(built)
        doc[repo] = per_arch
    return doc


def run(out: Path, release: str, catalog_path: Path, work: Path, refresh: bool = False,
        workers: int = 2) -> bool:
    """Build or refresh the repository at *out*; True if it changed, False if up to date."""
    distribution, oe_tag = _distribution(release)
    catalog = load_catalog(catalog_path)
    if catalog.release_tag != oe_tag:
        raise SampleRepoError(
            f"{catalog_path}: release_tag {catalog.release_tag!r} does not match "
            f"--release {release} ({oe_tag})"
        )
    fetched = _fetch_all(catalog, work, refresh)
    os_jobs, update_jobs = _jobs(catalog, fetched, distribution)

    def report(built: _mkrepo_build.BuiltRpm) -> None:
        if built.fresh:
            print(f"built {built.path.name} ({built.seconds:.1f}s)", flush=True)

    cache = work / "sample-rpms"
    os_rpms = _mkrepo_build.build_all(os_jobs, cache, workers, report)
    update_rpms = _mkrepo_build.build_all(update_jobs, cache, workers, report)
    stamp = hashlib.sha256(
        "\n".join([release, *(b.job.key() for b in os_rpms),
                   "update", *(b.job.key() for b in update_rpms)]).encode()
    ).hexdigest()
    reused = sum(not b.fresh for b in os_rpms + update_rpms)
    if _mkrepo_layout.current_stamp(out) == stamp:
        print(f"{out}: up to date ({reused} RPMs cached)")
        return False
    _mkrepo_layout.assemble(out, release, os_rpms, update_rpms,
                            _versions(release, os_rpms, update_rpms), stamp, workers)
    per_arch = {a: sum(b.job.arch in (a, "noarch") for b in os_rpms)
                for a in _mkrepo_layout.ARCHES}
    print(f"{out}: wrote openEuler-{release} "
          f"({', '.join(f'{n} RPMs {a}' for a, n in per_arch.items())}; "
          f"{reused} reused from cache; metadata {_mkrepo_layout.metadata_compression()})")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--out", type=Path, required=True, help="repository root to write")
    parser.add_argument("--release", default="24.03-LTS", help="openEuler release name")
    parser.add_argument("--packages", type=Path, default=HERE / "packages.yaml",
                        help="catalog of openEuler packages (default: samples/packages.yaml)")
    parser.add_argument("--work", type=Path, default=None,
                        help="apt state, .deb pool and RPM cache (default: parent of --out)")
    parser.add_argument("--refresh", action="store_true",
                        help="run apt-get update even if the private lists exist")
    parser.add_argument("--jobs", type=int, default=2, help="parallel rpmbuild jobs")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    work = (args.work or out.parent).resolve()
    start = time.monotonic()
    try:
        run(out, args.release, args.packages, work, args.refresh, args.jobs)
    except SampleRepoError as exc:
        print(f"mkrepo: error: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
