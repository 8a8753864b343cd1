"""Files a package's ELF objects may open by name, found with no program run.

An absolute path in an object's read-only strings (``ElfInfo.paths``: OpenSSL's
``/usr/lib/ssl/cert.pem``, glibc's ``gconv-modules.cache``) that names a file some
package of the repositories ships is a run-time need the ELF dynamic section does not
show. Paths no package ships are normal probing (``/etc/localtime`` made at install
time, ``/var/run/utmp``) and never needs; so are directories, documentation (a path in
a message: "see /usr/share/doc/..."), and programs (a file with an execute bit: libc
names ``/bin/sh`` for ``system()``, which only some jobs call). A
symlink is followed to the file it names (through other packages): an image needs both.

In: a package's facts and a lookup of the packages shipping a path. Out:
:class:`OpenedPath` per (object, path). Pure apart from the lookup the caller passes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sdfgen.facts import FileFlag, FileKind, PackageFile, RpmPackage

# path -> the packages (read, ELF facts not needed) of the repositories that ship it.
Owners = Callable[[str], Sequence[RpmPackage]]
MAX_LINK_HOPS = 8  # a longer symlink chain is a loop or a mistake; followed no further
_DOC_FLAGS = frozenset({FileFlag.DOC, FileFlag.LICENSE, FileFlag.README})
_DOC_DIR = re.compile(r"^/usr/share/(?:doc|man|info|licenses|lintian)/")


@runtime_checkable
class OwnerSource(Protocol):
    """A package source that also answers which packages ship a path."""

    def owners(self, arch: str, path: str) -> tuple[RpmPackage, ...]:
        """The packages of ``arch`` whose file lists hold ``path`` (ELF facts optional)."""


@dataclass(frozen=True)
class ShippedFile:
    """A non-directory payload entry of ``package`` at ``path``."""

    package: str
    path: str
    program: bool = False  # a regular file with an execute bit


@dataclass(frozen=True)
class OpenedPath:
    """``needed_by`` names ``path``; ``files`` is that file and, for a symlink, every
    file it leads to, each with the package that ships it (first: ``path`` itself)."""

    needed_by: str
    path: str
    files: tuple[ShippedFile, ...]


def link_target(path: str, target: str) -> str:
    """The absolute, normalised path a symlink at ``path`` pointing to ``target`` names."""
    joined = target if target.startswith("/") else posixpath.join(posixpath.dirname(path),
                                                                  target)
    return posixpath.normpath(joined)


def opened_paths(rpm: RpmPackage, owners: Owners,
                 wanted: Callable[[PackageFile], bool] | None = None) -> Iterator[OpenedPath]:
    """Every shipped file an ELF object of ``rpm`` names (objects ``wanted`` selects)."""
    own = {f.path: f for f in rpm.files}
    for entry in rpm.files:
        elf = entry.elf
        if elf is None or elf.error or not elf.paths:
            continue
        if wanted is not None and not wanted(entry):
            continue
        for path in elf.paths:
            if path == entry.path:
                continue
            files = _chain(rpm.name, own, owners, path)
            if files and not files[-1].program:
                yield OpenedPath(entry.path, path, files)


def _chain(package: str, own: dict[str, PackageFile], owners: Owners,
           path: str) -> tuple[ShippedFile, ...]:
    chain: list[ShippedFile] = []
    seen: set[str] = set()
    while path not in seen and len(chain) <= MAX_LINK_HOPS:
        seen.add(path)
        found = _shipped(package, own, owners, path)
        if found is None:
            break
        name, entry = found
        chain.append(ShippedFile(name, path, entry.kind is FileKind.FILE
                                 and bool(entry.mode & 0o111)))
        if entry.kind is not FileKind.SYMLINK or not entry.link_target:
            break
        path = link_target(path, entry.link_target)
    return tuple(chain)


def _shipped(package: str, own: dict[str, PackageFile], owners: Owners,
             path: str) -> tuple[str, PackageFile] | None:
    """The package shipping ``path`` as a non-directory (its own first) and the entry."""
    if _DOC_DIR.match(path):
        return None
    entry = own.get(path)
    if entry is not None:
        return None if _not_opened(entry) else (package, entry)
    for rpm in owners(path):
        for candidate in rpm.files:
            if candidate.path == path:
                if _not_opened(candidate):
                    break
                return rpm.name, candidate
    return None


def _not_opened(entry: PackageFile) -> bool:
    return entry.kind is FileKind.DIR or bool(entry.flags & _DOC_FLAGS)
