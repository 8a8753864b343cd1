"""NEEDED resolution against a repository: which package and file satisfy each soname.

Candidate providers come from the repository's Provides (``libc.so.6()(64bit)``) and,
for the interpreter, its file lists; their RPMs are read and the ld.so search
(``sdfgen.rpm.lddtree``) then picks the file that the loader would really open, honouring
RPATH/RUNPATH, ``$ORIGIN`` and the arch's default directories.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from sdfgen.facts import ElfInfo, PackageMeta, RpmPackage
from sdfgen.rpm.lddtree import NeededResolution, build_index, resolve_needed
from sdfgen.rpm.session import Session


@dataclass(frozen=True)
class NeededRow:
    """One file's need (a NEEDED soname or its interpreter) and what satisfies it."""

    needed_by: str  # the needing file's path
    soname: str  # the soname, or the interpreter path
    package: str | None  # providing package name; None when unresolved
    path: str | None  # the path the loader opens
    reason: str  # how it was found, or why not
    interpreter: bool = False


def capability_for(soname: str, elf: ElfInfo) -> str:
    """The RPM Provides name rpmbuild gives a soname for objects of ``elf``'s class."""
    return f"{soname}()(64bit)" if elf.elf_class == 64 else soname


def provider_packages(session: Session, arch: str, rpm: RpmPackage,
                      lazy: Callable[[str], bool] = lambda _name: True) -> list[RpmPackage]:
    """The RPMs that may satisfy ``rpm``'s ELF needs, read (``rpm`` itself first).

    A provider is read lazily: with the ELF facts of the objects named like the sonames
    and interpreters asked for (the loader opens nothing else for these needs), not of
    every object it ships. ``lazy(name)`` False reads it in full instead: a caller that
    will read that package in full anyway saves a second decompression.
    """
    repository = session.repository(arch)
    wanted: dict[str, PackageMeta] = {}
    names: set[str] = set()
    for entry in rpm.files:
        elf = entry.elf
        if elf is None or elf.error:
            continue
        for soname in elf.needed:
            names.add(posixpath.basename(soname))
            for meta in repository.whatprovides(capability_for(soname, elf)):
                wanted.setdefault(meta.nevra, meta)
        if elf.interpreter:
            names.add(posixpath.basename(elf.interpreter))
            for meta in repository.whatprovides(elf.interpreter):
                wanted.setdefault(meta.nevra, meta)
    providers = [rpm]
    for nevra in sorted(wanted):
        if nevra != rpm.nevra:
            meta = wanted[nevra]
            providers.append(session.read(arch, meta,
                                          elf_names=names if lazy(meta.name) else None))
    return providers


def resolve_package(session: Session, arch: str, rpm: RpmPackage,
                    lazy: Callable[[str], bool] = lambda _name: True,
                    ) -> tuple[NeededRow, ...]:
    """A row per (ELF file, NEEDED soname or interpreter) of ``rpm`` on ``arch``
    (providers read as :func:`provider_packages` says)."""
    index = build_index(provider_packages(session, arch, rpm, lazy))
    rows: list[NeededRow] = []
    for entry in sorted(rpm.files, key=lambda e: e.path):
        elf = entry.elf
        if elf is None or elf.error or (not elf.needed and not elf.interpreter):
            continue
        deps = resolve_needed(entry.path, elf, index)
        if deps.interpreter is not None:
            rows.append(_row(entry.path, deps.interpreter, interpreter=True))
        rows.extend(_row(entry.path, need) for need in deps.needed)
    return tuple(rows)


def _row(needed_by: str, need: NeededResolution, *, interpreter: bool = False) -> NeededRow:
    return NeededRow(needed_by=needed_by, soname=need.soname, package=need.package,
                     path=need.path, reason=need.reason, interpreter=interpreter)
