"""The cache directory: the one place where names a repository provides become paths.

A repository names files by checksum (``<type>:<hex>``) and location href; both end up
in cache paths, so both are checked before any path is built: a checksum type is one of
:data:`CHECKSUM_LENGTHS` (or an alias of one), a checksum is lower-case hex of exactly
that algorithm's length, and a file name taken from an href is a plain base name (not
empty, no leading ``.``, no control character, at most 255 bytes as a cache file name).
Anything else is a one-line RepoError naming the repository URL and the bad value. As a
second line of defence every path is confined: it must resolve (symlinks followed)
inside the cache directory.

Downloads and index builds write to ``partial/.partial-*`` first and hold an exclusive
``flock`` on the file while writing; :meth:`CacheDir.sweep_partials` removes the ones a
killed run left behind (unlocked and untouched for an hour), and once per cache those
the old layout left beside the cached files.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from sdfgen.errors import RepoError

# hashlib name -> hex digits of a digest. Repositories use sha256; the others occur in
# old or third-party repositories.
CHECKSUM_LENGTHS = {"sha256": 64, "sha1": 40, "sha512": 128, "sha384": 96, "sha224": 56,
                    "md5": 32}
# Spellings in repodata that mean one of the above (yum's "sha" is SHA-1).
_CHECKSUM_ALIASES = {"sha": "sha1", "sha-1": "sha1", "sha-256": "sha256",
                     "sha-512": "sha512", "sha-384": "sha384", "sha-224": "sha224"}
_HEX = re.compile(r"[0-9a-f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME_MAX = 255  # bytes in one file name on Linux file systems
PARTIAL_PREFIX = ".partial-"
# A partial file untouched this long is left over: a running download writes at least
# once per read timeout (at most an hour, see sdfgen.cli.options), or it fails.
STALE_PARTIAL_SECONDS = 3600.0
# Written in the cache once no partial file of the old layout is left in it.
LEGACY_SWEPT_MARKER = ".legacy-partials-swept"


def checksum_type(value: str, where: str) -> str:
    """The hashlib name of a repodata checksum type (``sha`` -> ``sha1``).

    Raises RepoError naming ``where`` (the repository URL) for any other type.
    """
    name = value.lower()
    name = _CHECKSUM_ALIASES.get(name, name)
    if name not in CHECKSUM_LENGTHS:
        known = ", ".join(sorted({*CHECKSUM_LENGTHS, "sha"}))
        raise RepoError(f"{where}: unsupported checksum type {_show(value)} "
                        f"(expected one of {known})")
    return name


def checked_checksum(type_value: str, checksum: str, where: str) -> tuple[str, str]:
    """``(hashlib name, checksum)`` once both are valid; RepoError naming ``where`` if not.

    A checksum is lower-case hex of exactly its algorithm's length, nothing else: it
    becomes a directory name in the cache.
    """
    name = checksum_type(type_value, where)
    length = CHECKSUM_LENGTHS[name]
    if len(checksum) != length or not _HEX.fullmatch(checksum):
        raise RepoError(f"{where}: bad {name} checksum {_show(checksum)}: expected "
                        f"{length} lower-case hex digits")
    return name, checksum


def base_name(location: str, where: str) -> str:
    """The file name at the end of a location href or URL path, if it is a plain one.

    Raises RepoError naming ``where`` and ``location`` when the name is empty, ``.``,
    ``..`` or another name starting with ``.``, holds a NUL or control character, or is
    longer than a file name may be.
    """
    name = location.rpartition("/")[2]
    problem = _name_problem(name)
    if problem:
        raise RepoError(f"{where}: bad file name in location {_show(location)}: {problem}")
    return name


def _name_problem(name: str) -> str:
    """Why ``name`` cannot be a cache file name, or ``""``."""
    if not name:
        return "it is empty"
    if name.startswith("."):
        return "it starts with '.'"
    if _CONTROL.search(name):
        return "it contains a NUL or control character"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if size > _NAME_MAX:
        return f"it is longer than {_NAME_MAX} bytes"
    return ""


class CacheDir:
    """The cache directory (absolute): confined paths for metadata, RPMs, indexes, temps."""

    def __init__(self, root: str | Path) -> None:
        # Absolute now: a relative path would change meaning with the working
        # directory, and sqlite's file: URIs cannot express one.
        self.root = Path(root).expanduser().absolute()
        self._swept = False

    def metadata_path(self, type_value: str, checksum: str, url: str) -> Path:
        """Where a metadata file of ``url`` with this checksum lives in the cache."""
        name, checksum = checked_checksum(type_value, checksum, url)
        file_name = base_name(_url_path(url), url)
        # createrepo already prefixes names with the digest; avoid doubling it.
        if not file_name.startswith(checksum):
            file_name = f"{checksum}-{file_name}"
            problem = _name_problem(file_name)
            if problem:
                raise RepoError(f"{url}: bad file name {_show(file_name)} for the cache: "
                                f"{problem}")
        return self.confine(self.root / "metadata" / name / file_name, url)

    def package_path(self, type_value: str, checksum: str, url: str) -> Path:
        """Where an RPM of ``url`` with this checksum lives (keeping its file name)."""
        name, checksum = checked_checksum(type_value, checksum, url)
        file_name = base_name(_url_path(url), url)
        return self.confine(
            self.root / "packages" / name / checksum[:2] / checksum / file_name, url)

    def index_path(self, kind: str, fmt: str, type_value: str, checksum: str,
                   where: str) -> Path:
        """Where the sqlite index of a ``kind`` metadata file with this checksum lives."""
        name, checksum = checked_checksum(type_value, checksum, where)
        return self.confine(self.root / "index" / f"{kind}-{fmt}-{name}-{checksum}.sqlite",
                            where)

    def confine(self, path: Path, where: str) -> Path:
        """``path`` itself, once it resolves (symlinks followed) inside the cache.

        Raises RepoError naming ``where`` otherwise, so a symlink in the cache cannot
        send a write, or a trusted cached file, elsewhere.
        """
        try:
            real_root = self.root.resolve()
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise RepoError(f"{where}: cache path {path} cannot be resolved: {exc}") from None
        if not real.is_relative_to(real_root):
            raise RepoError(f"{where}: cache path {path} resolves to {real}, outside the "
                            f"cache directory {real_root}")
        return path

    @contextmanager
    def partial_file(self, suffix: str = "") -> Iterator[PartialFile]:
        """A new ``partial/.partial-*`` file, flock'ed while the block runs.

        The caller writes it and :meth:`PartialFile.commit`-s it into place; whatever is
        still there on exit (an error, a failed check) is removed. Stale partial files
        of killed runs are swept the first time this cache is written to.
        """
        if not self._swept:
            self.sweep_partials()
            self._swept = True
        directory = self.confine(self.root / "partial", str(self.root))
        directory.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=directory, prefix=PARTIAL_PREFIX,
                                             suffix=suffix, delete=False)
        path = Path(handle.name)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield PartialFile(handle, path, self)
        finally:
            handle.close()  # releases the lock
            path.unlink(missing_ok=True)

    def sweep_partials(self, max_age: float = STALE_PARTIAL_SECONDS) -> int:
        """Remove partial files that no process holds and nothing wrote for ``max_age`` s.

        Runs sharing this cache are safe: a file being written is locked (and recent).
        Returns how many files were removed.
        """
        directory = self.root / "partial"
        cutoff = time.time() - max_age
        removed = 0
        try:
            entries = list(os.scandir(directory))
        except OSError:
            entries = []
        for entry in entries:
            if entry.name.startswith(PARTIAL_PREFIX) and _sweep(entry.path, cutoff):
                removed += 1
        return removed + self._sweep_legacy_partials(cutoff)

    def _sweep_legacy_partials(self, cutoff: float) -> int:
        """Once per cache: remove the ``.partial-*`` files earlier builds of sdfgen left
        beside the cached files (one can be as large as a hostile server made it). The
        marker file is written once none is left."""
        marker = self.root / LEGACY_SWEPT_MARKER
        if marker.exists() or not self.root.is_dir():
            return 0
        removed = left = 0
        for top, dirs, files in os.walk(self.root):  # never follows symlinks
            if top == str(self.root):
                dirs[:] = [d for d in dirs if d != "partial"]
            for name in files:
                if name.startswith(PARTIAL_PREFIX):
                    if _sweep(os.path.join(top, name), cutoff):
                        removed += 1
                    else:
                        left += 1
        if not left:
            try:
                marker.touch()
            except OSError:
                pass  # a read-only cache: swept again next time
        return removed


class PartialFile:
    """A temp file being written in the cache: ``file`` to write, ``path`` to hand on."""

    def __init__(self, file: IO[bytes], path: Path, cache: CacheDir) -> None:
        self.file = file
        self.path = path
        self._cache = cache

    def commit(self, dest: Path, where: str) -> Path:
        """Move the finished file to ``dest`` (confined to the cache) atomically."""
        self.file.flush()  # before the rename: nothing may reach dest after it
        self._cache.confine(dest, where)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, dest)
        return dest


def _sweep(path: str, cutoff: float) -> bool:
    """Remove the partial file ``path`` if nothing wrote it since ``cutoff`` and no
    process holds it; whether it was removed."""
    try:
        if os.stat(path, follow_symlinks=False).st_mtime > cutoff:
            return False
        return _unlink_if_unlocked(path)
    except OSError:
        return False  # gone already (another run swept it) or not ours to remove


def _unlink_if_unlocked(path: str) -> bool:
    """Remove ``path`` unless a process holds a lock on it; whether it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        os.unlink(path)  # a symlink or other odd entry: never ours, never followed
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another run is still writing it
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def _url_path(url: str) -> str:
    """The path part of a URL (or a plain path), without query or fragment."""
    parts = urlsplit(url)
    return parts.path if parts.scheme else url


def _show(value: str, limit: int = 80) -> str:
    """``value`` quoted on one line, cut to ``limit`` characters."""
    return repr(value[:limit]) + ("..." if len(value) > limit else "")
