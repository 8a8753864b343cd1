"""Resolve DT_NEEDED sonames over a repository's files, the way glibc's ld.so would.

Pure: it works on an index ``path -> (package name, PackageFile)`` built from RPMs
read with ELF analysis, never on the host's file system. Symlinks (of files and of
directories such as openEuler's ``/lib64 -> usr/lib64``) are followed inside the
index only; a loop is reported in the result, not raised.

Search order, per glibc's ``_dl_map_object``: DT_RPATH of the object (and of the
objects that loaded it) only when the object has no DT_RUNPATH, then DT_RUNPATH, then
directories from ld.so.conf (``ldconfig_dirs``, as the cache would), then the default
directories. Like ld.so, a candidate of another ELF class or machine is skipped and
the search goes on.

Default directories: the interpreter path cannot tell the layouts apart (openEuler
and Debian both use ``/lib64/ld-linux-x86-64.so.2`` and ``/lib/ld-linux-aarch64.so.1``),
so by default the union is searched, RPM layout first: ``/lib64``, ``/usr/lib64``,
``/lib/<triplet>``, ``/usr/lib/<triplet>``, ``/lib``, ``/usr/lib`` for 64-bit. The
compatibility check keeps a 32-bit library in ``/usr/lib`` from being picked. Pass
``layout=Layout.RPM`` or ``Layout.DEBIAN`` to search one layout only.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from sdfgen.facts import ElfInfo, FileKind, PackageFile, RpmPackage

FileIndex = Mapping[str, tuple[str, PackageFile]]
MAX_SYMLINKS = 40  # Linux's limit on symlinks followed in one lookup (ELOOP)


class Layout(StrEnum):
    """Which distribution's library directories are the defaults."""

    RPM = "rpm"  # openEuler, Fedora: /lib64, /usr/lib64 on 64-bit
    DEBIAN = "debian"  # multiarch: /lib/<triplet>, /usr/lib/<triplet>, /lib, /usr/lib
    UNION = "union"  # both, RPM first


@dataclass(frozen=True)
class Arch:
    """What ld.so substitutes for one (machine, class): $PLATFORM, triplet, lib dir."""

    platform: str
    triplet: str
    libdir: str  # "lib64" or "lib": the RPM layout's $LIB


ARCHES = {
    ("EM_X86_64", 64): Arch("x86_64", "x86_64-linux-gnu", "lib64"),
    ("EM_AARCH64", 64): Arch("aarch64", "aarch64-linux-gnu", "lib64"),
    ("EM_386", 32): Arch("i686", "i386-linux-gnu", "lib"),
    ("EM_ARM", 32): Arch("v7l", "arm-linux-gnueabihf", "lib"),
    ("EM_RISCV", 64): Arch("riscv64", "riscv64-linux-gnu", "lib64"),
    ("EM_PPC64", 64): Arch("powerpc64le", "powerpc64le-linux-gnu", "lib64"),
    ("EM_S390", 64): Arch("s390x", "s390x-linux-gnu", "lib64"),
    ("EM_LOONGARCH", 64): Arch("loongarch64", "loongarch64-linux-gnu", "lib64"),
}


@dataclass(frozen=True)
class Lookup:
    """A path looked up in the index with its symlinks followed."""

    path: str  # the path asked for
    real_path: str | None  # where it ends; None when it does not exist or loops
    package: str | None
    file: PackageFile | None
    chain: tuple[str, ...] = ()  # the symlinks followed, in order
    error: str | None = None  # "symlink loop at /x"


@dataclass(frozen=True)
class NeededResolution:
    """One DT_NEEDED soname (or the interpreter) and what provides it."""

    soname: str
    path: str | None  # the path ld.so opens: search directory + soname
    package: str | None  # the package owning the real file
    reason: str  # how it was found ("runpath", "default", ...) or why not
    real_path: str | None = None  # after following symlinks
    chain: tuple[str, ...] = ()  # symlinks followed: a slice must carry them too

    @property
    def resolved(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class ElfDeps:
    """The dependencies of one ELF file: interpreter and each NEEDED, in order."""

    path: str
    interpreter: NeededResolution | None
    needed: tuple[NeededResolution, ...]
    search_path: tuple[str, ...]  # the expanded directories, in search order


def build_index(packages: Iterable[RpmPackage]) -> dict[str, tuple[str, PackageFile]]:
    """Map every path of ``packages`` to (package name, file); the first owner wins."""
    index: dict[str, tuple[str, PackageFile]] = {}
    for package in packages:
        for file in package.files:
            index.setdefault(file.path, (package.name, file))
    return index


def lookup(index: FileIndex, path: str) -> Lookup:
    """Follow ``path`` through the index component by component, as the kernel does.

    ``..`` applies after a symlink is followed and stops at ``/``, so nothing leads
    outside the index; directories not in the index are taken to exist.
    """
    parts = deque(p for p in path.split("/") if p)
    current = "/"
    chain: list[str] = []
    while parts:
        part = parts.popleft()
        if part == ".":
            continue
        if part == "..":
            current = posixpath.dirname(current)
            continue
        candidate = posixpath.join(current, part)
        entry = index.get(candidate)
        if entry is not None and entry[1].kind is FileKind.SYMLINK:
            if len(chain) >= MAX_SYMLINKS:
                return Lookup(path, None, None, None, tuple(chain),
                              f"symlink loop at {candidate}")
            chain.append(candidate)
            target = entry[1].link_target or ""
            if target.startswith("/"):
                current = "/"
            parts.extendleft(reversed([p for p in target.split("/") if p]))
            continue
        if entry is not None and parts and entry[1].kind is not FileKind.DIR:
            return Lookup(path, None, None, None, tuple(chain))  # ENOTDIR
        current = candidate
    entry = index.get(current)
    if entry is None:
        return Lookup(path, None, None, None, tuple(chain))
    return Lookup(path, current, entry[0], entry[1], tuple(chain))


def default_dirs(elf: ElfInfo, layout: Layout = Layout.UNION) -> tuple[str, ...]:
    """The trusted directories ld.so searches last, for this object's arch and layout."""
    arch = _arch(elf)
    rpm = (f"/{arch.libdir}", f"/usr/{arch.libdir}")
    debian = (f"/lib/{arch.triplet}", f"/usr/lib/{arch.triplet}", "/lib", "/usr/lib")
    if layout is Layout.RPM:
        return rpm
    if layout is Layout.DEBIAN:
        return debian
    return tuple(dict.fromkeys(rpm + debian))


def expand(entry: str, origin: str, elf: ElfInfo, layout: Layout = Layout.UNION) -> list[str]:
    """Expand $ORIGIN, $LIB and $PLATFORM (also ``${...}``) in one RPATH/RUNPATH entry.

    $LIB has one value per layout, so the union layout yields two directories.
    Relative results (ld.so would use the process's cwd) are dropped.
    """
    arch = _arch(elf)
    libs = {Layout.RPM: [arch.libdir], Layout.DEBIAN: [f"lib/{arch.triplet}"]}.get(
        layout, [arch.libdir, f"lib/{arch.triplet}"])
    text = entry.replace("${ORIGIN}", "$ORIGIN").replace("${PLATFORM}", "$PLATFORM")
    text = text.replace("${LIB}", "$LIB")
    text = text.replace("$ORIGIN", origin).replace("$PLATFORM", arch.platform)
    results = [text.replace("$LIB", lib) for lib in libs] if "$LIB" in text else [text]
    return [posixpath.normpath(r) for r in results if r.startswith("/")]


def resolve_needed(
    path: str,
    elf: ElfInfo,
    index: FileIndex,
    *,
    layout: Layout = Layout.UNION,
    inherited_rpath: tuple[str, ...] = (),
    ldconfig_dirs: tuple[str, ...] = (),
) -> ElfDeps:
    """Resolve the interpreter and every NEEDED of the ELF file at ``path``.

    ``inherited_rpath``: expanded DT_RPATH directories of the objects that loaded this
    one (glibc searches them too when this object has no DT_RUNPATH).
    ``ldconfig_dirs``: directories the ld.so cache would cover (ld.so.conf.d).
    """
    origin = posixpath.dirname(path) or "/"
    search: list[tuple[str, str]] = []
    # If both RPATH and RUNPATH are set, only the latter is used.
    if not elf.runpath:
        search += [(d, "rpath") for e in elf.rpath for d in expand(e, origin, elf, layout)]
        search += [(d, "inherited rpath") for d in inherited_rpath]
    search += [(d, "runpath") for e in elf.runpath for d in expand(e, origin, elf, layout)]
    search += [(d, "ldconfig") for d in ldconfig_dirs]
    search += [(d, "default") for d in default_dirs(elf, layout)]
    search = list(dict.fromkeys(search))  # a directory twice would only repeat the misses

    interpreter = None
    if elf.interpreter:
        interpreter = _resolve_at(elf.interpreter, elf.interpreter, elf, index, "interpreter")
    needed = tuple(_resolve_soname(soname, elf, index, search) for soname in elf.needed)
    return ElfDeps(path, interpreter, needed, tuple(d for d, _ in search))


def resolve_tree(
    roots: Iterable[str],
    index: FileIndex,
    *,
    layout: Layout = Layout.UNION,
    ldconfig_dirs: tuple[str, ...] = (),
) -> dict[str, ElfDeps]:
    """Resolve ``roots`` and, transitively, every library they load; keyed by real path.

    Like ld.so, an object is loaded once: the first chain that reaches it decides the
    inherited RPATH its own NEEDED entries are searched with.
    """
    result: dict[str, ElfDeps] = {}
    # (path, inherited rpath, is a root). $ORIGIN is, as in glibc, the real directory
    # of an executable (from /proc/self/exe) but the directory a library was opened in.
    queue: deque[tuple[str, tuple[str, ...], bool]] = deque(
        (root, (), True) for root in roots)
    while queue:
        path, inherited, is_root = queue.popleft()
        found = lookup(index, path)
        if found.real_path is None or found.real_path in result or found.file is None:
            continue
        elf = found.file.elf
        if elf is None or elf.error is not None:
            continue
        opened = found.real_path if is_root else path
        deps = resolve_needed(opened, elf, index, layout=layout,
                              inherited_rpath=inherited, ldconfig_dirs=ldconfig_dirs)
        result[found.real_path] = deps
        own = () if elf.runpath else tuple(
            d for e in elf.rpath for d in expand(e, posixpath.dirname(opened), elf, layout))
        for dep in deps.needed:
            if dep.path is not None and dep.real_path not in result:
                queue.append((dep.path, own + inherited, False))
    return result


def _resolve_soname(soname: str, elf: ElfInfo, index: FileIndex,
                    search: list[tuple[str, str]]) -> NeededResolution:
    if "/" in soname:
        # ld.so opens a NEEDED with a slash as a path, without searching.
        return _resolve_at(soname, soname, elf, index, "direct path")
    notes: list[str] = []
    for directory, how in search:
        candidate = posixpath.join(directory, soname)
        found = lookup(index, candidate)
        if found.error is not None:
            notes.append(found.error)
            continue
        if found.file is None:
            continue
        why_not = _incompatible(found.file, elf)
        if why_not:
            notes.append(f"skipped {candidate}: {why_not}")
            continue
        return NeededResolution(soname, candidate, found.package, how, found.real_path,
                                found.chain)
    dirs = ":".join(d for d, _ in search)
    reason = f"not found in {dirs}" + "".join(f"; {note}" for note in notes)
    return NeededResolution(soname, None, None, reason)


def _resolve_at(name: str, path: str, elf: ElfInfo, index: FileIndex,
                how: str) -> NeededResolution:
    found = lookup(index, path)
    if found.error is not None:
        return NeededResolution(name, None, None, found.error)
    if found.file is None:
        return NeededResolution(name, None, None, f"{how} {path} not in the index")
    why_not = _incompatible(found.file, elf)
    if why_not:
        return NeededResolution(name, None, None, f"{how} {path}: {why_not}")
    return NeededResolution(name, path, found.package, how, found.real_path, found.chain)


def _incompatible(file: PackageFile, elf: ElfInfo) -> str | None:
    if file.kind not in (FileKind.FILE, FileKind.HARDLINK):
        return f"not a regular file ({file.kind})"
    other = file.elf
    if other is None:
        return "not ELF (or read without ELF analysis)"
    if other.error is not None:
        return other.error
    if (other.elf_class, other.machine) != (elf.elf_class, elf.machine):
        return f"{other.machine}/{other.elf_class}-bit, need {elf.machine}/{elf.elf_class}-bit"
    return None


def _arch(elf: ElfInfo) -> Arch:
    known = ARCHES.get((elf.machine, elf.elf_class))
    if known is not None:
        return known
    # An arch without a table entry: the generic glibc defaults for its class.
    machine = elf.machine.removeprefix("EM_").lower()
    return Arch(machine, f"{machine}-linux-gnu", "lib64" if elf.elf_class == 64 else "lib")
