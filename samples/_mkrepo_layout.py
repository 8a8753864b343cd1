"""The repository tree as openEuler's server lays it out, with createrepo_c metadata.

openEuler-<release>/{OS,everything,EPOL/main,update}/<arch>/{Packages,repodata}: OS
holds the packages (noarch ones in both arch trees), everything and EPOL/main are
valid but empty, update holds the rebuilt package(s). The tree is assembled in a
temporary sibling of the output and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from _mkrepo_build import BuiltRpm
from _mkrepo_catalog import SampleRepoError

ARCHES = ("x86_64", "aarch64")
_compress_type: str | None = None


def metadata_compression() -> str:
    """'zstd' when this createrepo_c can write it (as openEuler does), else 'xz'."""
    global _compress_type
    if _compress_type is None:
        with tempfile.TemporaryDirectory(prefix="mkrepo-probe-") as probe:
            result = subprocess.run(
                ["createrepo_c", "--quiet", "--no-database",
                 "--general-compress-type=zstd", probe],
                capture_output=True, text=True, check=False,
            )
        _compress_type = "zstd" if result.returncode == 0 else "xz"
    return _compress_type


def createrepo(repo_dir: Path, workers: int = 2) -> None:
    """Write repodata/ for the RPMs under *repo_dir* (sha256 checksums)."""
    (repo_dir / "Packages").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["createrepo_c", "--quiet", "--checksum=sha256", f"--workers={workers}",
         f"--general-compress-type={metadata_compression()}", str(repo_dir)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()] or ["failed"]
        raise SampleRepoError(f"createrepo_c {repo_dir}: {lines[-1].strip()}")


def _place(rpm: Path, packages_dir: Path) -> None:
    packages_dir.mkdir(parents=True, exist_ok=True)
    target = packages_dir / rpm.name
    try:
        os.link(rpm, target)  # same filesystem: no copy, and du counts it once
    except OSError:
        shutil.copy2(rpm, target)


def assemble(out: Path, release: str, os_rpms: Sequence[BuiltRpm],
             update_rpms: Sequence[BuiltRpm], versions: dict[str, object],
             stamp: str, workers: int = 2) -> None:
    """Build the whole tree next to *out*, then swap it in; *out* is never half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        top = tmp / f"openEuler-{release}"
        for arch in ARCHES:
            for repo, rpms in (("OS", os_rpms), ("everything", ()), ("EPOL/main", ()),
                               ("update", update_rpms)):
                repo_dir = top / repo / arch
                for built in _for_arch(rpms, arch):
                    _place(built.path, repo_dir / "Packages")
                createrepo(repo_dir, workers)
        _write_json(tmp / "versions.json", versions)
        (tmp / ".mkrepo-stamp").write_text(stamp + "\n", encoding="utf-8")
        old = out.parent / f".{out.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _for_arch(rpms: Iterable[BuiltRpm], arch: str) -> list[BuiltRpm]:
    return [b for b in rpms if b.job.arch in (arch, "noarch")]


def _write_json(path: Path, doc: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def current_stamp(out: Path) -> str:
    """The stamp of the tree at *out* ("" when there is none)."""
    try:
        return (out / ".mkrepo-stamp").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
