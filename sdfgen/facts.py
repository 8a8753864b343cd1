"""The project's data model: frozen facts about packages, files and ELF objects.

Every step of the pipeline (repository metadata -> RPM -> file facts -> classification
-> proposal) passes these dataclasses; third-party objects (rpmfile headers,
pyelftools sections) never leave the one module that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, order=True)
class Evr:
    """Epoch, version and release of a package (compare with ``sdfgen.repo.evr``)."""

    epoch: int
    version: str
    release: str

    def __str__(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}" if self.release else prefix + self.version


@dataclass(frozen=True)
class Capability:
    """One Provides/Requires entry: ``libc.so.6(GLIBC_2.34)(64bit)``, ``foo >= 1.2``."""

    name: str
    flags: str | None = None  # EQ, LT, LE, GT, GE as in repodata; None when unversioned
    evr: Evr | None = None

    def __str__(self) -> str:
        if self.flags is None or self.evr is None:
            return self.name
        op = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}.get(self.flags, self.flags)
        return f"{self.name} {op} {self.evr}"


@dataclass(frozen=True)
class PackageMeta:
    """A package as the repository metadata (primary.xml) describes it."""

    name: str
    arch: str  # x86_64, aarch64, noarch, src
    evr: Evr
    summary: str
    license: str
    location: str  # location href, relative to the repository's base URL
    base_url: str  # the repository's base URL (http(s)://, file:// or a directory)
    repo_id: str
    checksum_type: str  # sha256, sha512, ...
    checksum: str
    size: int  # package file size in bytes
    sourcerpm: str = ""
    buildtime: int = 0
    provides: tuple[Capability, ...] = ()
    requires: tuple[Capability, ...] = ()
    files: tuple[str, ...] = ()  # the (partial) file list primary.xml carries

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"


class FileKind(StrEnum):
    """What a payload entry is."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"  # a regular file sharing its inode with an earlier entry
    OTHER = "other"  # device, fifo, socket


class FileFlag(StrEnum):
    """RPM file flags (RPMFILE_*) that matter for slicing."""

    CONFIG = "config"
    DOC = "doc"
    LICENSE = "license"
    GHOST = "ghost"
    README = "readme"
    MISSINGOK = "missingok"
    NOREPLACE = "noreplace"
    ARTIFACT = "artifact"


@dataclass(frozen=True)
class SymbolVersion:
    """A versioned symbol requirement (``libc.so.6: GLIBC_2.34``) or definition."""

    library: str  # the soname for needed versions; the object's own soname for defined ones
    version: str


@dataclass(frozen=True)
class ElfInfo:
    """Facts of one ELF object; ``error`` is set (and the rest empty) when it is broken."""

    elf_class: int = 0  # 32 or 64
    machine: str = ""  # pyelftools' e_machine name: EM_X86_64, EM_AARCH64, ...
    elf_type: str = ""  # ET_EXEC, ET_DYN, ET_REL, ET_CORE
    interpreter: str | None = None  # PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
    soname: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    versions_needed: tuple[SymbolVersion, ...] = ()
    versions_defined: tuple[str, ...] = ()
    is_static: bool = False  # no PT_DYNAMIC: a statically linked executable or object
    error: str | None = None  # "broken ELF: <why>"; never raised, always recorded
    # Absolute paths named by whole strings of .rodata (``/usr/lib/ssl/ct_log_list.cnf``,
    # glibc's ``/etc/nsswitch.conf``): files the object may open at run time. Sorted.
    paths: tuple[str, ...] = ()

    @property
    def is_pie_or_shared(self) -> bool:
        return self.elf_type == "ET_DYN"


@dataclass(frozen=True)
class PackageFile:
    """One payload entry of an RPM, with the header's facts and (if ELF) its ELF facts."""

    path: str  # absolute, normalised: /usr/lib64/libssl.so.3
    kind: FileKind
    mode: int  # permission bits including setuid/setgid/sticky (st_mode & 0o7777)
    user: str = "root"
    group: str = "root"
    size: int = 0
    digest: str = ""  # hex digest from the header (algorithm: RpmPackage.digest_algo)
    flags: frozenset[FileFlag] = frozenset()
    link_target: str | None = None  # symlink target as stored; hardlink: the first path
    elf: ElfInfo | None = None  # None: not ELF (or not a regular file)
    # a script's interpreter: "/usr/bin/python3"; through env: "/usr/bin/env python3"
    shebang: str | None = None
    mtime: int = 0


@dataclass(frozen=True)
class PayloadProblem:
    """A payload entry that was reported and not used (unsafe path, header mismatch)."""

    entry: str  # the name as stored in the payload
    problem: str  # one line: "path escapes the root (../)", "absolute path in payload"


@dataclass(frozen=True)
class RpmPackage:
    """An RPM read once: header facts plus every payload entry."""

    name: str
    evr: Evr
    arch: str
    license: str = ""
    summary: str = ""
    sourcerpm: str = ""
    buildtime: int = 0
    vendor: str = ""  # Vendor tag: the organisation that distributes the package
    packager: str = ""  # Packager tag: who built it ("Name <mail>")
    url: str = ""  # the upstream project's home page
    provides: tuple[Capability, ...] = ()
    requires: tuple[Capability, ...] = ()
    payload_compressor: str = ""  # gzip, xz, lzma, zstd, bzip2, none
    digest_algo: str = "sha256"
    files: tuple[PackageFile, ...] = ()
    problems: tuple[PayloadProblem, ...] = field(default=())

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"

    def file(self, path: str) -> PackageFile | None:
        """The entry at ``path``, or None."""
        for entry in self.files:
            if entry.path == path:
                return entry
        return None
