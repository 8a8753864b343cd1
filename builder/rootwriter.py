"""Write entries into a root filesystem directory without ever leaving it.

Every write walks the path from the root one component at a time through directory
file descriptors opened with O_NOFOLLOW, so a symlink already in the tree (one an
RPM put there, or one planted to attack the build) is never followed: writing
through it is refused. Paths with ``..``, ``.`` or empty components are refused
before anything is opened, and a symlink whose relative target would climb above the
root is refused too. Each path records who wrote it, so a second writer of the same
file is reported by name instead of silently replacing the first.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

from builder.errors import BuildError
from sdfgen.slicing.sliceable import path_problem, symlink_escapes

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_BAD_NAMES = frozenset(("", ".", ".."))
COPY_CHUNK = 1 << 20
_MAX_CACHED_FDS = 256  # well below the usual limit of 1024 open files


@dataclass(frozen=True)
class Written:
    """What a write produced: size and sha256 of a regular file (0 and "" otherwise)."""

    size: int = 0
    sha256: str = ""


def split_path(path: str) -> list[str]:
    """The components of an absolute image path; BuildError if it could escape the root.

    The rule is :func:`sdfgen.slicing.sliceable.path_problem`, the one ``propose`` and
    ``sdfgen check`` apply too, so an SDF they accept never names a path refused here.
    """
    problem = path_problem(path)
    if problem is not None:
        raise BuildError(f"image path {path!r}: {problem}; refusing it")
    return [] if path == "/" else path[1:].split("/")


class RootWriter:
    """Creates directories, files, symlinks and hard links under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(mode=0o755)
        os.chmod(self.root, 0o755)
        self.origin: dict[str, str] = {}  # image path -> who wrote it (for conflicts)
        self._dir_times: dict[str, int] = {}
        self._fds: dict[str, int] = {}

    def _dir_fd(self, parts: list[str], path: str, *, create: bool) -> int:
        """An fd of the directory ``/parts...`` (cached), walked with O_NOFOLLOW.

        Cached fds stay valid: the writer never removes or replaces a directory, so
        a directory once opened safely is still the one in the tree.
        """
        key = "/" + "/".join(parts)
        cached = self._fds.get(key)
        if cached is not None:
            return cached
        if not parts:
            fd = os.open(self.root, _DIR_FLAGS)
        else:
            parent = self._dir_fd(parts[:-1], path, create=create)
            name = parts[-1]
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o700, dir_fd=parent)
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
                os.fchmod(fd, 0o755)
                self.origin.setdefault(key, "builder (parent directory)")
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise BuildError(
                        f"image path {path}: {key} is a symlink or not a directory "
                        "in the image; refusing to write through it") from exc
                raise
        self._remember(key, fd)
        return fd

    def _remember(self, key: str, fd: int) -> None:
        if len(self._fds) >= _MAX_CACHED_FDS:
            self.close()
        self._fds[key] = fd

    def _parent(self, path: str, *, create: bool = True) -> tuple[int, str]:
        """An fd of the directory holding ``path`` (creating missing ones) and its name."""
        # Fast path: the parent is already open. Cache keys are canonical paths that
        # split_path accepted, so only the last component needs checking here.
        head, _, name = path.rpartition("/")
        if name not in _BAD_NAMES:
            cached = self._fds.get(head or "/")
            if cached is not None and path.startswith("/"):
                return cached, name
        parts = split_path(path)
        if not parts:
            raise BuildError("the image root itself cannot be written")
        return self._dir_fd(parts[:-1], path, create=create), parts[-1]

    def close(self) -> None:
        """Close the cached directory fds (they are reopened on demand)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _refuse(self, path: str, st: os.stat_result, origin: str) -> NoReturn:
        kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
        raise BuildError(f"{origin}: {path} is already in the image as a {kind} "
                         f"from {self.origin.get(path, 'an earlier step')}")

    def _exists(self, path: str, fd: int, name: str, origin: str, exc: OSError) -> NoReturn:
        """Raise the conflict error for ``name`` that creating it found in the way."""
        try:
            st = os.lstat(name, dir_fd=fd)
        except OSError:
            raise exc from None
        self._refuse(path, st, origin)

    def lexists(self, path: str) -> bool:
        """Whether ``path`` is in the image (as anything, a dangling symlink included)."""
        try:
            fd, name = self._parent(path, create=False)
            os.lstat(name, dir_fd=fd)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False
        except BuildError:
            return False

    def mkdir(self, path: str, *, mode: int, uid: int, gid: int, mtime: int,
              origin: str) -> None:
        """Create (or adopt) directory ``path`` and give it mode, owner and mtime."""
        fd = self._fds.get(path)  # only canonical paths are keys; else opened below
        if fd is None:
            parent, name = self._parent(path)
            try:
                os.mkdir(name, 0o700, dir_fd=parent)
                self.origin[path] = origin
            except FileExistsError:
                pass
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                raise BuildError(f"{origin}: directory {path} is already in the image as "
                                 f"a file from {self.origin.get(path, 'an earlier step')}"
                                 ) from exc
            # Kept open: the files of the directory are usually written next.
            self._remember("/" + "/".join(split_path(path)), fd)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)  # after chown, which clears set-id bits
        self._dir_times[path] = mtime

    def write_file(self, path: str, stream: BinaryIO, *, mode: int, uid: int, gid: int,
                   mtime: int, origin: str) -> Written:
        """Create regular file ``path`` from ``stream``; refuse an existing entry."""
        parent, name = self._parent(path)
        try:
            # O_EXCL refuses any existing name, a symlink included (never followed).
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent)
        except FileExistsError as exc:
            self._exists(path, parent, name, origin, exc)
        self.origin[path] = origin
        digest = hashlib.sha256()
        size = 0
        try:
            while chunk := stream.read(COPY_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                written = os.write(fd, chunk)
                if written < len(chunk):  # short writes are rare: copy only then
                    view = memoryview(chunk)
                    while written < len(chunk):
                        written += os.write(fd, view[written:])
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after chown, which clears set-id bits
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
        return Written(size, digest.hexdigest())

    def copy_in(self, path: str, source: Path, *, mode: int, uid: int, gid: int, mtime: int,
                origin: str) -> Written:
        """Create regular file ``path`` from the host file ``source``."""
        with open(source, "rb") as stream:
            return self.write_file(path, stream, mode=mode, uid=uid, gid=gid, mtime=mtime,
                                   origin=origin)

    def symlink(self, path: str, target: str, *, uid: int, gid: int, mtime: int,
                origin: str) -> None:
        """Create symlink ``path`` -> ``target``; refuse one that points above the root."""
        if not target or "\0" in target:
            raise BuildError(f"{origin}: symlink {path} has an empty or invalid target")
        if symlink_escapes(path, target):
            raise BuildError(f"{origin}: symlink {path} -> {target} points outside the "
                             "image root; refusing it")
        parent, name = self._parent(path)
        try:
            os.symlink(target, name, dir_fd=parent)
        except FileExistsError as exc:
            self._exists(path, parent, name, origin, exc)
        self.origin[path] = origin
        os.chown(name, uid, gid, dir_fd=parent, follow_symlinks=False)
        os.utime(name, (mtime, mtime), dir_fd=parent, follow_symlinks=False)

    def hardlink(self, path: str, existing: str, *, origin: str) -> None:
        """Create ``path`` as a hard link to the regular file ``existing`` (both in the image)."""
        cached, src_name = self._parent(existing, create=False)
        # A duplicate: resolving the second path may evict (close) cached fds.
        src_parent = os.dup(cached)
        try:
            st = os.lstat(src_name, dir_fd=src_parent)
            if not stat.S_ISREG(st.st_mode):
                raise BuildError(f"{origin}: hard link {path}: {existing} is not a regular "
                                 "file")
            parent, name = self._parent(path)
            try:
                os.link(src_name, name, src_dir_fd=src_parent, dst_dir_fd=parent,
                        follow_symlinks=False)
            except FileExistsError as exc:
                self._exists(path, parent, name, origin, exc)
        finally:
            os.close(src_parent)
        self.origin[path] = origin

    def finish(self) -> None:
        """Give directories their recorded mtimes (deepest first: writes change them).

        Implicit parents keep the time of the build; the layer writer clamps every
        mtime to SOURCE_DATE_EPOCH, so the image stays reproducible.
        """
        for path in sorted(self._dir_times, key=lambda p: (-p.count("/"), p)):
            self._set_dir_time(path, self._dir_times[path])
        self.close()

    def _set_dir_time(self, path: str, mtime: int) -> None:
        cached = self._fds.get(path)
        if cached is not None:
            os.utime(cached, (mtime, mtime))
            return
        parent, name = self._parent(path, create=False)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        try:
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    def remove_all(self) -> None:
        """Delete the whole tree (after a failed build)."""
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)

