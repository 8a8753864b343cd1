"""The larger repository of benchmarks/large_repo.py: which Debian packages, and building them.

:func:`select` chooses Debian bookworm binary packages by a fixed rule; :func:`build_repo`
downloads them for amd64 and arm64 with a private apt state, repackages them with the
sample repository's own tooling (samples/_mkrepo_*) into RPMs cached in
build/bench-large-repo/rpms, and lays them out as an openEuler repository in
build/bench-large-repo/repo. Unchanged inputs rebuild nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench-large-repo"
REPO, RPMS = WORK / "repo", WORK / "rpms"
sys.path.insert(0, str(ROOT / "samples"))

import _mkrepo_apt  # noqa: E402
import _mkrepo_build  # noqa: E402
import _mkrepo_layout  # noqa: E402
from _mkrepo_catalog import PackageSpec, SampleRepoError  # noqa: E402

RELEASE, RELEASE_TAG, DISTRIBUTION = "24.03-LTS", "oe2403", "openEuler 24.03-LTS"
# Roots of the selection, in order: Debian's base system by priority, then packages a
# server image commonly adds. Each root comes with its Depends/Pre-Depends closure.
PRIORITIES = ("required", "important", "standard")
SEEDS = ("openssh-server", "curl", "git", "python3", "gnupg", "sudo", "rsync", "iproute2",
         "nginx", "vim", "tmux", "systemd-container", "postgresql-15", "ffmpeg")


# --- which packages --------------------------------------------------------------------

def parse_records(text: str) -> dict[str, dict[str, str]]:
    """Package name -> its fields (first line of each) from apt's deb822 records."""
    records: dict[str, dict[str, str]] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line and line[0] not in " \t" and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            records[fields["Package"]] = fields
    return records


def _depends(record: dict[str, str], index: dict[str, dict[str, str]],
             providers: dict[str, list[str]]) -> list[str]:
    """The packages a record needs: per alternative group the first real package, else
    the alphabetically first provider of the first virtual name that has one."""
    found = []
    for field in ("Pre-Depends", "Depends"):
        for group in filter(None, (g.strip() for g in record.get(field, "").split(","))):
            names = [alt.split()[0].split(":")[0] for alt in group.split("|") if alt.split()]
            pick = next((n for n in names if n in index), None)
            pick = pick or next((min(providers[n]) for n in names if n in providers), None)
            if pick:
                found.append(pick)
    return found


def select(index: dict[str, dict[str, str]], count: int) -> list[str]:
    """At least ``count`` package names, closed under dependencies, deterministically.

    Roots are taken in order (Priority required, important, standard, each sorted by
    name; then SEEDS) and each adds its Depends/Pre-Depends closure, until there are
    ``count`` or more.
    """
    providers: dict[str, list[str]] = {}
    for name, record in index.items():
        for item in filter(None, (p.strip() for p in record.get("Provides", "").split(","))):
            providers.setdefault(item.split()[0], []).append(name)
    roots = [n for p in PRIORITIES for n in sorted(n for n, r in index.items()
                                                   if r.get("Priority") == p)]
    chosen: set[str] = set()
    for root in [*roots, *SEEDS]:
        if len(chosen) >= count:
            break
        todo = [root]
        while todo:
            name = todo.pop()
            if name in index and name not in chosen:
                chosen.add(name)
                todo.extend(_depends(index[name], index, providers))
    return sorted(chosen)


# --- building the repository -----------------------------------------------------------

# Characters samples/_mkrepo_spec.py escapes with a backslash in %files, which rpmbuild
# 4.18 then looks for literally ("File not found: .../usr/bin/\["), or refuses ('"').
_ODD_CHARS = frozenset('*?[]{}\\"')


def _deb_facts(deb: _mkrepo_apt.DebFile, known: dict[str, Any]) -> dict[str, Any]:
    """What the deb's file list says, cached in ``known`` by SHA-256: "owner", the deb whose
    /usr/share/doc/NAME/copyright it uses ("" its own, "-" none), and "odd", its topmost
    paths with a character in _ODD_CHARS."""
    if deb.sha256 not in known:
        doc = f"/usr/share/doc/{deb.name}"
        owner, odd = "-", list[str]()
        # the data tarball itself: dpkg-deb -c quotes names (a backslash shows as two)
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb.path)],
                              stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    path = member.name.removeprefix(".").rstrip("/")
                    if member.isfile() and path == f"{doc}/copyright":
                        owner = ""
                    elif member.issym() and path == doc and owner == "-":
                        owner = member.linkname.rstrip("/").rsplit("/", 1)[-1]
                    if _ODD_CHARS & set(path) and not any(path.startswith(o + "/")
                                                          for o in odd):
                        odd.append(path)
        if proc.returncode != 0:
            raise SampleRepoError(f"{deb.path}: dpkg-deb --fsys-tarfile failed")
        known[deb.sha256] = {"owner": owner, "odd": odd}
    return dict(known[deb.sha256])


def _specs(names: list[str], index: dict[str, dict[str, str]],
           fetched: dict[str, dict[str, _mkrepo_apt.DebFile]],
           skipped: dict[str, str], dropped: dict[str, list[str]]) -> list[PackageSpec]:
    """One catalog entry per package whose copyright file can be found; paths the spec
    generator cannot list are dropped (and recorded in ``dropped``)."""
    cache_file = WORK / "deb-facts.json"
    known = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    specs = []
    for name in names:
        facts = [_deb_facts(debs[name], known) for debs in fetched.values()]
        owners = {f["owner"] for f in facts}
        if "-" in owners or len(owners) > 1:
            skipped[name] = "no /usr/share/doc/NAME/copyright and no symlink to another one"
            continue
        owner = owners.pop()
        odd = sorted({path for f in facts for path in f["odd"]})
        if odd:
            dropped[name] = odd
        specs.append(PackageSpec(
            name=name, summary=index[name].get("Description", name) or name,
            license="LicenseRef-Debian-copyright", debs=(name,),
            license_from=(owner,) if owner else (), drop=tuple(odd)))
    cache_file.write_text(json.dumps(known, sort_keys=True))
    return specs


def build_repo(count: int, workers: int) -> dict[str, Any]:
    """Choose, download, build (or reuse) and lay out the repository; returns its facts."""
    start = time.monotonic()
    sources = _mkrepo_apt.parse_sources(_mkrepo_apt.machine_sources())
    apts = {arch: _mkrepo_apt.AptState(WORK / "debian" / deb_arch, WORK / "debian" / "pool",
                                       deb_arch, sources)
            for arch, deb_arch in _mkrepo_apt.DEB_ARCH.items()}
    indexes = {}
    for arch, apt in apts.items():
        apt.ensure_lists()
        indexes[arch] = parse_records(apt.available())
    first, second = _mkrepo_layout.ARCHES
    names = select(indexes[first], count)
    skipped = {n: f"not in the {second} archive" for n in names if n not in indexes[second]}
    names = [n for n in names if n not in skipped]
    fetched = {arch: apt.fetch(names) for arch, apt in apts.items()}
    dropped: dict[str, list[str]] = {}
    specs = _specs(names, indexes[first], fetched, skipped, dropped)
    extra = sorted({d for s in specs for d in s.license_from} - set(names))
    for arch, apt in apts.items():
        fetched[arch].update(apt.fetch(extra) if extra else {})
    jobs = []
    for spec in specs:
        noarch = fetched[first][spec.name].arch == "all"
        for arch in ("noarch",) if noarch else _mkrepo_layout.ARCHES:
            debs = fetched[first if noarch else arch]
            jobs.append(_mkrepo_build.BuildJob(
                spec=spec, arch=arch, debs=(debs[spec.name],),
                license_debs=tuple(debs[d] for d in spec.license_from),
                release_tag=RELEASE_TAG, distribution=DISTRIBUTION))

    def build(job: _mkrepo_build.BuildJob) -> _mkrepo_build.BuiltRpm | str:
        try:
            return _mkrepo_build.build_all([job], RPMS, 1)[0]
        except SampleRepoError as exc:
            return str(exc)

    built: list[_mkrepo_build.BuiltRpm] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, (job, result) in enumerate(zip(jobs, pool.map(build, jobs), strict=True)):
            if isinstance(result, str):
                skipped[job.spec.name] = result
            else:
                built.append(result)
            if (done + 1) % 50 == 0 or done + 1 == len(jobs):
                print(f"  {done + 1}/{len(jobs)} RPMs ready ({time.monotonic() - start:.0f} s)",
                      flush=True)
    built = [b for b in built if b.job.spec.name not in skipped]
    stamp = _stamp(built)
    if _mkrepo_layout.current_stamp(REPO) != stamp:
        versions = {"release": RELEASE, "debian": "bookworm", "skipped": skipped,
                    "OS": {b.path.name: [b.job.debs[0].name, b.job.debs[0].version]
                           for b in built}}
        _mkrepo_layout.assemble(REPO, RELEASE, built, [], versions, stamp, workers)
    return {"names": sorted({b.job.spec.name for b in built}), "skipped": skipped,
            "dropped": dropped,
            "fresh": sum(b.fresh for b in built), "seconds": time.monotonic() - start}


def _stamp(built: Iterable[_mkrepo_build.BuiltRpm]) -> str:
    keys = "\n".join([RELEASE, *sorted(b.job.key() for b in built)])
    return hashlib.sha256(keys.encode()).hexdigest()


def repo_sizes() -> dict[str, tuple[int, int]]:
    """Arch -> (RPM count, RPM bytes) of the built OS repositories."""
    sizes = {}
    for arch in _mkrepo_layout.ARCHES:
        rpms = list((REPO / f"openEuler-{RELEASE}" / "OS" / arch / "Packages").glob("*.rpm"))
        sizes[arch] = (len(rpms), sum(p.stat().st_size for p in rpms))
    return sizes
