"""Read an RPM's header through rpmfile: package facts and its file list.

rpmfile parses the lead, signature and main header into a dict; this is the one module
that imports it. The accessors here normalise rpmfile's values (bytes, bare ints for
one-element arrays, strings for types it cannot decode) to ``str``/``int`` lists, and
:func:`header_files` turns the file columns into one :class:`HeaderFile` per file.
The payload is not read here: rpmfile's payload code reads zstd payloads fully into
memory and seeks, so :mod:`sdfgen.rpm.payload` streams it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import rpmfile.headers

from sdfgen.errors import ConfigError, RpmError
from sdfgen.facts import Capability, Evr, FileFlag
from sdfgen.repo.evr import parse_evr

LEAD_MAGIC = b"\xed\xab\xee\xdb"
# Header tag ids (rpm's rpmtag.h); rpmfile keys its dict by its own names for them.
TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH = 1000, 1001, 1002, 1003
TAG_SUMMARY, TAG_BUILDTIME, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM = 1004, 1006, 1014, 1022, 1044
TAG_VENDOR, TAG_PACKAGER, TAG_URL = 1011, 1015, 1020
TAG_PROVIDENAME, TAG_PROVIDEFLAGS, TAG_PROVIDEVERSION = 1047, 1112, 1113
TAG_REQUIRENAME, TAG_REQUIREFLAGS, TAG_REQUIREVERSION = 1049, 1048, 1050
TAG_FILESIZES, TAG_FILEMODES, TAG_FILEMTIMES, TAG_FILEDIGESTS = 1028, 1030, 1034, 1035
TAG_FILELINKTOS, TAG_FILEFLAGS, TAG_FILEUSERNAME, TAG_FILEGROUPNAME = 1036, 1037, 1039, 1040
TAG_OLDFILENAMES, TAG_FILEDEVICES, TAG_FILEINODES = 1027, 1095, 1096
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TAG_PAYLOADFORMAT, TAG_PAYLOADCOMPRESSOR = 1124, 1125
TAG_FILEDIGESTALGO = 5011
TAG_PAYLOADDIGEST, TAG_PAYLOADDIGESTALGO = 5092, 5093

FILE_FLAGS = {
    1: FileFlag.CONFIG, 2: FileFlag.DOC, 8: FileFlag.MISSINGOK, 16: FileFlag.NOREPLACE,
    64: FileFlag.GHOST, 128: FileFlag.LICENSE, 256: FileFlag.README, 4096: FileFlag.ARTIFACT,
}
DIGEST_ALGOS = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384",
                10: "sha512", 11: "sha224"}
SENSE = {8: "EQ", 2: "LT", 10: "LE", 4: "GT", 12: "GE"}  # RPMSENSE_{LESS,GREATER,EQUAL}


@dataclass
class HeaderFile:
    """One file of the header's file list (mutable only while reading)."""

    index: int
    path: str
    mode: int
    size: int | None
    user: str
    group: str
    digest: str
    flags: frozenset[FileFlag]
    link_to: str
    mtime: int
    inode: tuple[int, int]  # (device, inode) as rpm numbers them


def read_headers(fileobj: BinaryIO, name: str) -> dict[object, object]:
    """Read the lead, signature and main header of the RPM open at the start of ``fileobj``.

    Returns the main header as rpmfile's dict and leaves ``fileobj`` at the payload.
    Raises RpmError naming ``name`` for a file that is not an RPM or a corrupt or
    truncated header.
    """
    lead = fileobj.read(4)
    fileobj.seek(0)
    if lead != LEAD_MAGIC:
        raise RpmError(f"{name}: not an RPM file (bad lead magic {lead!r})")
    try:
        _, headers = rpmfile.headers.get_headers(fileobj)
    # rpmfile signals corruption with RPMError, AssertionError (header magic),
    # struct.error, ValueError or TypeError; all mean "bad header".
    except Exception as exc:
        raise RpmError(f"{name}: corrupt or truncated RPM header: {_one_line(exc)}") from exc
    for tag in (TAG_NAME, TAG_VERSION, TAG_RELEASE):
        if not tag_str(headers, tag):
            raise RpmError(f"{name}: corrupt RPM header: no {rpmfile.headers.rtags[tag]} tag")
    return headers


def _get(headers: dict[object, object], tag: int) -> object:
    return headers.get(rpmfile.headers.rtags[tag])


def _decode(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return "" if value is None else str(value)


def tag_str(headers: dict[object, object], tag: int) -> str:
    """The (first) value of ``tag`` as a string; "" when absent."""
    value = _get(headers, tag)
    if isinstance(value, list):
        value = value[0] if value else None
    return _decode(value)


def tag_strs(headers: dict[object, object], tag: int) -> list[str]:
    """The values of ``tag`` as strings; [] when absent."""
    value = _get(headers, tag)
    if value is None:
        return []
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return [_decode(value)]


def tag_ints(headers: dict[object, object], tag: int) -> list[int]:
    """The values of integer ``tag``; [] when absent or of a type rpmfile cannot decode."""
    # rpmfile returns a bare int for a one-element integer array, and a string for
    # types it cannot decode (INT64): both are normalised to a list (empty if unknown).
    value = _get(headers, tag)
    if isinstance(value, int):
        return [value]
    if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
        return list(value)
    return []


def tag_int(headers: dict[object, object], tag: int) -> int:
    """The first value of integer ``tag``; 0 when absent."""
    values = tag_ints(headers, tag)
    return values[0] if values else 0


def capabilities(headers: dict[object, object], name_tag: int, flags_tag: int,
                 version_tag: int) -> tuple[Capability, ...]:
    """The capabilities (Provides, Requires) stored in the three parallel tags given."""
    names = tag_strs(headers, name_tag)
    flags = tag_ints(headers, flags_tag)
    versions = tag_strs(headers, version_tag)
    caps = []
    for i, cap_name in enumerate(names):
        version = versions[i] if i < len(versions) else ""
        sense = SENSE.get((flags[i] if i < len(flags) else 0) & 14)
        if not version or sense is None:
            caps.append(Capability(cap_name))
            continue
        try:
            evr = parse_evr(version)
        except ConfigError:
            evr = Evr(0, version, "")
        caps.append(Capability(cap_name, sense, evr))
    return tuple(caps)


def header_files(headers: dict[object, object], name: str) -> list[HeaderFile]:
    """The header's file list in header order; RpmError naming ``name`` if inconsistent."""
    basenames = tag_strs(headers, TAG_BASENAMES)
    if basenames:
        dirnames = tag_strs(headers, TAG_DIRNAMES)
        dirindexes = tag_ints(headers, TAG_DIRINDEXES)
        if len(dirindexes) != len(basenames) or any(i >= len(dirnames) for i in dirindexes):
            raise RpmError(f"{name}: corrupt RPM header: dirindexes do not match basenames")
        paths = [dirnames[d] + b for d, b in zip(dirindexes, basenames, strict=True)]
    else:
        paths = tag_strs(headers, TAG_OLDFILENAMES)  # rpm < 4.0 packages
    count = len(paths)
    modes = tag_ints(headers, TAG_FILEMODES)
    if len(modes) != count:
        raise RpmError(f"{name}: corrupt RPM header: {len(modes)} file modes for {count} files")
    sizes: list[int | None] = list(tag_ints(headers, TAG_FILESIZES)) or [None] * count

    def column(values: list, default: object) -> list:  # type: ignore[type-arg]
        return values if len(values) == count else [default] * count

    users = column(tag_strs(headers, TAG_FILEUSERNAME), "root")
    groups = column(tag_strs(headers, TAG_FILEGROUPNAME), "root")
    digests = column(tag_strs(headers, TAG_FILEDIGESTS), "")
    flags = column(tag_ints(headers, TAG_FILEFLAGS), 0)
    links = column(tag_strs(headers, TAG_FILELINKTOS), "")
    mtimes = column(tag_ints(headers, TAG_FILEMTIMES), 0)
    devices = column(tag_ints(headers, TAG_FILEDEVICES), 0)
    inodes = column(tag_ints(headers, TAG_FILEINODES), 0)
    sizes = column(sizes, None)
    return [
        HeaderFile(
            index=i, path=paths[i], mode=modes[i], size=sizes[i], user=users[i],
            group=groups[i], digest=digests[i],
            flags=frozenset(flag for bit, flag in FILE_FLAGS.items() if flags[i] & bit),
            link_to=links[i], mtime=mtimes[i], inode=(devices[i], inodes[i]),
        )
        for i in range(count)
    ]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
