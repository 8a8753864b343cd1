"""ELF facts for dependency analysis: class, machine, interpreter, dynamic tags, versions,
and the absolute paths the object's read-only strings name.

This is the only module that imports pyelftools; it turns an ELF object into a frozen
``facts.ElfInfo``. A truncated or malformed object never raises: real repositories
ship odd files (firmware blobs, test data, half-written objects), and one of them must
not stop the analysis of a package, so the failure is recorded in ``ElfInfo.error``.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TypeVar

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.segments import InterpSegment

from sdfgen.facts import ElfInfo, SymbolVersion

_T = TypeVar("_T")
ELF_MAGIC = b"\x7fELF"
VER_FLG_BASE = 0x1  # the verdef entry that names the object itself, not a version
DF_1_PIE = 0x08000000
PT_DYNAMIC, PT_INTERP = 2, 3
SHT_PROGBITS, SHT_DYNAMIC, SHT_GNU_VERDEF, SHT_GNU_VERNEED = 1, 6, 0x6FFFFFFD, 0x6FFFFFFE
# Versions are capped so a corrupt table with a huge count cannot spin for long.
MAX_VERSIONS = 100_000
# A whole NUL-terminated string of .rodata that is an absolute path below a directory
# packages ship files in: what a program may open by name (OPENSSLDIR's files, glibc's
# /etc/nsswitch.conf, gconv-modules.cache). Strings with printf or glob characters
# ("/usr/share/locale/%L/...") are templates, not paths, and never match.
# (A leading NUL literal lets the regex engine skip ahead; the section gets one prepended.)
_RODATA_PATH = re.compile(
    rb"\x00(/(?:usr|etc|lib|lib32|lib64|opt|var|bin|sbin)/"
    rb"[A-Za-z0-9_.+@,=~/-]{1,240})(?=\x00)")
MAX_RODATA_BYTES = 64 * 1024 * 1024  # a larger .rodata is read no further than this
MAX_PATHS = 4096  # per object


def is_elf(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts with the ELF magic."""
    return head[:4] == ELF_MAGIC


def read_elf(data: bytes | BinaryIO) -> ElfInfo | None:
    """Read an ELF object from bytes or a seekable binary stream (ELF at offset 0).

    Returns None when the data is not ELF at all, an ElfInfo with ``error`` set
    ("broken ELF: <why>") when it is ELF but cannot be parsed, else the full facts.
    """
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if not is_elf(head):
        return None
    try:
        return _read(stream)
    # pyelftools parses lazily and reports corruption as ELFError, construct's
    # StreamError, struct.error, UnicodeDecodeError, IndexError, ...; any of them
    # means "broken", never "crash".
    except Exception as exc:
        return ElfInfo(error=f"broken ELF: {_one_line(exc)}")


def _read(stream: BinaryIO) -> ElfInfo:
    elf = ELFFile(stream)
    interpreter: str | None = None
    dynamic_index: int | None = None
    for index, p_type in enumerate(_header_types(elf, stream, "e_phoff", "e_phentsize",
                                                 elf.num_segments())):
        if p_type == PT_INTERP:
            segment = elf.get_segment(index)
            if isinstance(segment, InterpSegment):
                interpreter = segment.get_interp_name()
        elif p_type == PT_DYNAMIC:
            dynamic_index = index
    dynamic: DynamicSection | DynamicSegment | None = None
    verneed: GNUVerNeedSection | None = None
    verdef: GNUVerDefSection | None = None
    paths: tuple[str, ...] = ()
    for index, sh_type in enumerate(_header_types(elf, stream, "e_shoff", "e_shentsize",
                                                  elf.num_sections())):
        if sh_type not in (SHT_PROGBITS, SHT_DYNAMIC, SHT_GNU_VERNEED, SHT_GNU_VERDEF):
            continue
        section = elf.get_section(index)
        if sh_type == SHT_PROGBITS:
            if section.name == ".rodata" and not paths:
                paths = _rodata_paths(stream, section["sh_offset"], section["sh_size"])
            continue
        if isinstance(section, DynamicSection) and dynamic is None:
            dynamic = section
        elif isinstance(section, GNUVerNeedSection):
            verneed = section
        elif isinstance(section, GNUVerDefSection):
            verdef = section
    if dynamic is None and dynamic_index is not None:
        # No section headers (sstrip'ed objects): read the tags through the segment,
        # whose string table pyelftools finds from DT_STRTAB.
        segment = elf.get_segment(dynamic_index)
        if isinstance(segment, DynamicSegment):
            dynamic = segment

    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    flags_1 = 0
    if dynamic is not None:
        for tag in dynamic.iter_tags():
            kind = tag.entry.d_tag
            if kind == "DT_NEEDED":
                needed.append(tag.needed)  # type: ignore[attr-defined]
            elif kind == "DT_SONAME":
                soname = tag.soname  # type: ignore[attr-defined]
            elif kind == "DT_RPATH":
                rpath.extend(_split_path(tag.rpath))  # type: ignore[attr-defined]
            elif kind == "DT_RUNPATH":
                runpath.extend(_split_path(tag.runpath))  # type: ignore[attr-defined]
            elif kind == "DT_FLAGS_1":
                flags_1 = tag.entry.d_val

    versions_needed: list[SymbolVersion] = []
    versions_defined: list[str] = []
    if verneed is not None:
        for need, auxiliaries in _capped(verneed.iter_versions()):
            for aux in _capped(auxiliaries):
                versions_needed.append(SymbolVersion(str(need.name), str(aux.name)))
    if verdef is not None:
        for definition, auxiliaries in _capped(verdef.iter_versions()):
            if definition["vd_flags"] & VER_FLG_BASE:
                continue
            # The first auxiliary names the version; later ones name its parents.
            first = next(iter(auxiliaries), None)
            if first is not None:
                versions_defined.append(str(first.name))

    elf_type = str(elf["e_type"])
    # Static: no dynamic section at all, or a static PIE (ET_DYN flagged PIE that
    # needs no interpreter, so nothing is loaded next to it).
    is_static = dynamic_index is None or (
        elf_type == "ET_DYN" and interpreter is None and bool(flags_1 & DF_1_PIE)
    )
    return ElfInfo(
        elf_class=elf.elfclass,
        machine=str(elf["e_machine"]),
        elf_type=elf_type,
        interpreter=interpreter,
        soname=soname,
        needed=tuple(needed),
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        versions_needed=tuple(versions_needed),
        versions_defined=tuple(versions_defined),
        is_static=is_static,
        paths=paths,
    )


def _rodata_paths(stream: BinaryIO, offset: int, size: int) -> tuple[str, ...]:
    """The absolute paths named by whole strings of the section at ``offset``, sorted.

    Only whole strings count: one that merely ends in a path (``"OPENSSLDIR: /x"``) is
    a message; a path with an empty, ``.`` or ``..`` component names nothing certain.
    """
    stream.seek(offset)
    data = b"\x00" + stream.read(min(size, MAX_RODATA_BYTES))
    found: set[str] = set()
    for match in _RODATA_PATH.finditer(data):
        text = match.group(1).decode("ascii")
        if text.endswith("/") or posixpath.normpath(text) != text:
            continue
        found.add(text)
        if len(found) >= MAX_PATHS:
            break
    return tuple(sorted(found))


def _header_types(elf: ELFFile, stream: BinaryIO, offset_field: str, size_field: str,
                  count: int) -> list[int]:
    """The p_type (or sh_type) of every program (or section) header, in order.

    pyelftools builds a full object for every header it yields (a PT_DYNAMIC segment
    even rescans all sections), which made reading a typical library several times
    slower; the type is the first 32-bit word of a program header and the second of a
    section header in both ELF classes, so one read of the table is enough to pick
    the few headers worth handing to pyelftools.
    """
    if count == 0:
        return []
    entry_size = elf[size_field]
    word = 0 if offset_field == "e_phoff" else 4
    if entry_size < word + 4:
        raise ELFError(f"{size_field} {entry_size} is too small")
    stream.seek(elf[offset_field])
    table = stream.read(entry_size * count)
    if len(table) < entry_size * count:
        raise ELFError(f"header table at {elf[offset_field]} runs past the end of the file")
    fmt = ("<" if elf.little_endian else ">") + "I"
    return [struct.unpack_from(fmt, table, i * entry_size + word)[0] for i in range(count)]


def _split_path(value: str) -> list[str]:
    # ld.so treats an empty element as the current directory; that is never what a
    # packaged object means, so empty elements are dropped as rpmlint reports them.
    return [part for part in value.split(":") if part]


def _capped(items: Iterable[_T]) -> Iterator[_T]:
    for count, item in enumerate(items):
        if count >= MAX_VERSIONS:
            raise ELFError("too many version entries")
        yield item


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
