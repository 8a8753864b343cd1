"""A writable scratch copy of a rootfs for one run: an overlay mount where it can be one.

A smoke, trace or probe run may write into the image (a program's caches, /tmp, a
probe's output), so each run gets its own copy and the rootfs stays as it was built.
As root, with a kernel that mounts overlayfs, the copy is an overlay: the rootfs is
the read-only lower layer and the run writes into an empty upper directory, so it
costs a mount instead of a copy of every file (a python image is ~35 MB; ``builder
probe`` makes hundreds of runs). Elsewhere, or when the mount is refused, the rootfs
is copied with ``cp -a`` (symlinks, hard links, devices, owners and modes kept).
Either way the copy is gone when the context ends.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from builder.errors import BuildError

# Characters overlayfs' option parser gives a meaning to; a lower directory with one
# of them is copied instead.
_OPTION_CHARS = frozenset(",:\\=")


@contextmanager
def scratch_root(source: Path, scratch: Path) -> Iterator[Path]:
    """Yield a writable copy of the rootfs ``source`` made under the empty or missing
    directory ``scratch`` (which the caller removes); the copy is undone on exit."""
    scratch.mkdir(parents=True, exist_ok=True)
    merged = _overlay(source, scratch)
    if merged is None:
        copy = scratch / "copy"
        copy_tree(source, copy)
        yield copy
        return
    try:
        yield merged
    finally:
        _unmount(merged)


def _overlay(source: Path, scratch: Path) -> Path | None:
    """Mount an overlay of ``source`` under ``scratch``; None where that cannot be done."""
    lower = str(source.resolve())
    if os.geteuid() != 0 or _OPTION_CHARS & set(lower + str(scratch)):
        return None
    upper, work, merged = scratch / "upper", scratch / "work", scratch / "merged"
    for directory in (upper, work, merged):
        directory.mkdir()
    # The upper layer's root takes the lower root's mode (a chroot's / is 0755).
    os.chmod(upper, source.stat().st_mode & 0o7777)
    done = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        for directory in (merged, work, upper):
            directory.rmdir()
        return None
    return merged


def _unmount(merged: Path) -> None:
    done = subprocess.run(["umount", str(merged)], capture_output=True, check=False)
    if done.returncode != 0:
        # Still busy (a process of the run lingers): detach now, freed when it exits.
        subprocess.run(["umount", "-l", str(merged)], capture_output=True, check=False)


def copy_tree(source: Path, dest: Path) -> None:
    """Copy a rootfs with cp -a: keeps symlinks, hard links, devices, owners and modes."""
    dest.mkdir(parents=True)
    done = subprocess.run(["cp", "-a", "--", f"{source}/.", str(dest)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["cp failed"])[0]
        raise BuildError(f"rootfs {source}: cannot copy for the chroot: {detail}")
