"""rpmbuild jobs for the sample repository, cached by a key over all their inputs.

A job's key hashes the catalog entry, the .debs' SHA-256, the target architecture,
the release and the source of the spec generator; an RPM whose stamp holds the same
key is reused, so unchanged inputs rebuild nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import _mkrepo_spec
from _mkrepo_apt import DebFile
from _mkrepo_catalog import PackageSpec, SampleRepoError

from sdfgen.facts import Evr

# Bump when the way RPMs are made changes in a way the source hash would not show.
_LAYOUT_VERSION = "1"


@dataclass(frozen=True)
class BuildJob:
    """One RPM to build: a catalog entry for one architecture (or noarch)."""

    spec: PackageSpec
    arch: str  # x86_64, aarch64 or noarch
    debs: tuple[DebFile, ...]
    license_debs: tuple[DebFile, ...]
    release_tag: str
    distribution: str
    suffix: str = ""  # extra release part for the update/ repository's rebuild

    @property
    def label(self) -> str:
        """Short name for messages and cache files: 'zlib.x86_64', 'zlib+1.x86_64'."""
        return f"{self.spec.name}{'+' + self.suffix if self.suffix else ''}.{self.arch}"

    @property
    def evr(self) -> Evr:
        """The RPM's epoch, version and release, taken from the first deb."""
        return _mkrepo_spec.deb_evr(self.debs[0].version, self.release_tag, self.suffix)

    def key(self) -> str:
        """SHA-256 over everything that decides the RPM's content."""
        generator = b"".join(
            Path(module.__file__ or "").read_bytes() for module in (_mkrepo_spec,)
        )
        doc = {
            "layout": _LAYOUT_VERSION,
            "spec": asdict(self.spec),
            "arch": self.arch,
            "debs": [(d.name, d.version, d.sha256) for d in self.debs],
            "license_debs": [(d.name, d.version, d.sha256) for d in self.license_debs],
            "release": [self.release_tag, self.suffix, self.distribution],
            "generator": hashlib.sha256(generator).hexdigest(),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class BuiltRpm:
    """An RPM in the cache, with the job that made it."""

    job: BuildJob
    path: Path
    fresh: bool  # built by this run (False: reused from the cache)
    seconds: float


def _rpm_name(job: BuildJob) -> str:
    evr = job.evr
    return f"{job.spec.name}-{evr.version}-{evr.release}.{job.arch}.rpm"


def _build_one(job: BuildJob, cache: Path) -> BuiltRpm:
    key = job.key()
    stamp = cache / "stamps" / f"{job.label}.json"
    target = cache / job.arch / _rpm_name(job)
    if target.is_file() and _stamp_key(stamp) == key:
        return BuiltRpm(job, target, fresh=False, seconds=0.0)
    start = time.monotonic()
    work = cache / "work" / job.label
    shutil.rmtree(work, ignore_errors=True)
    tree = _mkrepo_spec.stage(job.spec, job.debs, job.license_debs, work / "stage")
    spec_text = _mkrepo_spec.render_spec(job.spec, job.evr, tree, job.debs,
                                         noarch=job.arch == "noarch",
                                         distribution=job.distribution)
    spec_file = work / f"{job.spec.name}.spec"
    spec_file.write_text(spec_text, encoding="utf-8")
    out_dir = work / "rpms"
    cmd = [
        "rpmbuild", "-bb", "--quiet",
        # noarch RPMs are built on the host's arch; BuildArch makes them noarch
        "--target", "x86_64" if job.arch == "noarch" else job.arch,
        "--define", f"_topdir {work / 'top'}",
        "--define", f"_rpmdir {out_dir}",
        "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
        "--define", "_buildhost sdfgen-sample",
        str(spec_file),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log = cache / "logs" / f"{job.label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    built = out_dir / _rpm_name(job)
    if result.returncode != 0 or not built.is_file():
        errors = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        first = next((ln for ln in errors if ln.startswith("error:")), errors[-1] if errors
                     else "no RPM produced")
        raise SampleRepoError(
            f"{job.label} (debs {', '.join(d.path.name for d in job.debs)}): rpmbuild "
            f"failed: {first} (log: {log})"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = _stamped_rpm(stamp)
    if previous and previous != target.name:
        (target.parent / previous).unlink(missing_ok=True)
    os.replace(built, target)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "rpm": target.name}), encoding="utf-8")
    os.replace(tmp, stamp)
    shutil.rmtree(work, ignore_errors=True)
    return BuiltRpm(job, target, fresh=True, seconds=time.monotonic() - start)


def _stamp_key(stamp: Path) -> str:
    """The key a stamp recorded; a missing or damaged stamp only means "rebuild"."""
    try:
        return str(json.loads(stamp.read_text(encoding="utf-8")).get("key", ""))
    except (OSError, ValueError):
        return ""


def _stamped_rpm(stamp: Path) -> str:
    """The RPM file name a stamp recorded ("" when there is no readable stamp)."""
    try:
        return str(json.loads(stamp.read_text(encoding="utf-8")).get("rpm", ""))
    except (OSError, ValueError):
        return ""


def build_all(jobs: Sequence[BuildJob], cache: Path, workers: int = 2,
              on_done: Callable[[BuiltRpm], None] | None = None) -> list[BuiltRpm]:
    """Build (or reuse) every job's RPM in *cache*; returns them in job order.

    The first failure cancels the jobs not yet started and is raised as
    SampleRepoError; RPMs already in the cache stay valid.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_build_one, job, cache) for job in jobs]
        results: list[BuiltRpm] = []
        try:
            for future in futures:
                built = future.result()
                if on_done is not None:
                    on_done(built)
                results.append(built)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results
