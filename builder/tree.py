"""Walk a root filesystem directory in a fixed order without following symlinks.

Both the OCI layer writer and the initramfs writer read a rootfs through this walk,
so they see the same entries in the same order. Only ``lstat`` is used: a symlink
in the rootfs is an entry of its own and never leads the walk out of the rootfs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError


@dataclass(frozen=True)
class RootfsEntry:
    """One file, directory, symlink or device node; ``path`` is relative, '/'-separated."""

    path: str
    host_path: Path
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        """True for a real directory (not a symlink to one)."""
        return stat.S_ISDIR(self.st.st_mode)

    def link_target(self) -> str:
        """The target of a symlink, as written in the link."""
        return os.readlink(self.host_path)


def walk_rootfs(root: Path) -> Iterator[RootfsEntry]:
    """Yield every entry under ``root`` (not root itself), parents before children.

    Siblings come in byte order of their names, so the order depends only on the
    tree's content. Raises BuildError if ``root`` is not a directory.
    """
    try:
        root_st = os.lstat(root)
    except OSError as exc:
        raise BuildError(f"rootfs {root}: {exc.strerror}") from exc
    if not stat.S_ISDIR(root_st.st_mode):
        raise BuildError(f"rootfs {root}: not a directory")
    yield from _walk(root, "")


def _walk(directory: Path, prefix: str) -> Iterator[RootfsEntry]:
    try:
        names = sorted(os.listdir(directory), key=os.fsencode)
    except OSError as exc:
        raise BuildError(f"rootfs directory {directory}: {exc.strerror}") from exc
    for name in names:
        host_path = directory / name
        st = os.lstat(host_path)
        entry = RootfsEntry(prefix + name, host_path, st)
        yield entry
        if entry.is_dir:
            yield from _walk(host_path, entry.path + "/")
