"""builder.scratch: a run's writable copy of a rootfs leaves the rootfs as built, as an
overlay mount (root) or as a cp -a copy (a path overlayfs cannot take, or no root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.scratch import scratch_root


def _rootfs(base: Path) -> Path:
    root = base / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("NAME=openEuler\n", encoding="utf-8")
    (root / "bin").mkdir()
    (root / "bin" / "sh").write_text("#!\n", encoding="utf-8")
    os.chmod(root / "bin" / "sh", 0o755)
    (root / "lib").symlink_to("usr/lib")
    os.chmod(root, 0o755)
    return root


def _mounted(path: Path) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


@pytest.mark.parametrize("scratch_name", ["scratch", "scratch,with-comma"])
def test_a_run_writes_its_copy_never_the_rootfs(tmp_path: Path, scratch_name: str) -> None:
    root = _rootfs(tmp_path)
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    with scratch_root(root, tmp_path / scratch_name) as copy:
        assert copy != root
        assert (copy / "etc" / "os-release").read_text(encoding="utf-8") == "NAME=openEuler\n"
        assert os.readlink(copy / "lib") == "usr/lib"
        assert os.stat(copy / "bin" / "sh").st_mode & 0o777 == 0o755
        assert os.stat(copy).st_mode & 0o777 == 0o755
        (copy / "etc" / "os-release").write_text("changed\n", encoding="utf-8")
        (copy / "bin" / "sh").unlink()
        (copy / "tmp").mkdir()
        (copy / "tmp" / "k").write_text("key\n", encoding="utf-8")
        overlay = _mounted(copy)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
    assert (root / "etc" / "os-release").read_text(encoding="utf-8") == "NAME=openEuler\n"
    assert not _mounted(copy)
    # As root, a plain path gets an overlay; a comma is an option separator to
    # overlayfs, so that path is copied instead.
    assert overlay == (os.geteuid() == 0 and "," not in scratch_name)


def test_a_failing_run_still_unmounts(tmp_path: Path) -> None:
    root = _rootfs(tmp_path)
    with pytest.raises(RuntimeError), scratch_root(root, tmp_path / "scratch") as copy:
        raise RuntimeError("the run failed")
    assert not _mounted(copy)
