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
    host: str  # the entry's path on the host
    st: os.stat_result

    @property
    def host_path(self) -> Path:
        """The entry's path on the host (built on demand: most entries never need one)."""
        return Path(self.host)

    @property
    def is_dir(self) -> bool:
        """True for a real directory (not a symlink to one)."""
        return stat.S_ISDIR(self.st.st_mode)

    def link_target(self) -> str:
        """The target of a symlink, as written in the link."""
        return os.readlink(self.host)


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
    # Depth first with an explicit stack of sibling iterators (not one generator per
    # directory level) and plain string paths: a rootfs may hold 100,000 entries.
    stack = [_children(os.fspath(root).rstrip("/"), "")]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        yield entry
        if stat.S_ISDIR(entry.st.st_mode):
            stack.append(_children(entry.host, entry.path + "/"))


def _children(directory: str, prefix: str) -> Iterator[RootfsEntry]:
    """The entries of ``directory``, in byte order of their names."""
    try:
        names = sorted(os.listdir(directory or "/"), key=os.fsencode)
    except OSError as exc:
        raise BuildError(f"rootfs directory {directory or '/'}: {exc.strerror}") from exc
    for name in names:
        host = f"{directory}/{name}"
        yield RootfsEntry(prefix + name, host, os.lstat(host))
