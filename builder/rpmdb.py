"""The image's rpm database: which package (NEVRA, licence, ...) put which file there.

openEuler 24.03 runs rpm 4.18 with the sqlite backend, so an installed system has
``/var/lib/rpm/rpmdb.sqlite``: a ``Packages`` table of header blobs plus one index
table per indexed tag. CVE scanners (syft, grype, trivy) read it to know what is
installed; without it they see no package at all. This module writes that database
itself, in rpm's own layout, from the headers of the RPMs the slices were cut from.

Each blob is what ``rpm -i`` stores, except that the file list is the sliced one:
the package's main header is rebuilt as an immutable region whose per-file tags
(names, modes, digests, flags, ...) hold only the files the image has of the package
(and the package's directories above them), with ``Size`` the bytes the image has of
it; every other tag (name, EVR, arch, licence, vendor, dependencies) is the
original's. Like rpm, the install step then appends the signature header's size and
MD5 (they identify the RPM file the slices came from), the header's SHA-1 and SHA-256
(computed anew over the rebuilt region, so ``rpm`` accepts the blob; the RPM's
signatures covered the whole header and are dropped), the install time and
transaction id (SOURCE_DATE_EPOCH), file states and install colour. So ``rpm -qa``,
``rpm -ql`` and ``rpm -V`` in the image agree with the files it holds.

The sqlite file is written with the schema and index rows rpm 4.18 writes (a package
with all its files gives the very blob and rows ``rpm --justdb -i`` does), in
rollback-journal mode (no ``-wal``/``-shm`` files) and vacuumed, so the same inputs
and the same sqlite library give the same bytes.
"""

from __future__ import annotations

import hashlib
import posixpath
import sqlite3
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from builder.errors import BuildError
from builder.extract import PackageCut
from builder.rootwriter import RootWriter
from builder.sbom import GeneratedFile

DB_PATH = "/var/lib/rpm/rpmdb.sqlite"
PAGE_SIZE = 1024
ORIGIN = "builder rpm database"
WHY = "rpm database (sqlite): each package's NEVRA, licence and the files the image has of it"

HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
LEAD_SIZE = 96
MAX_INDEX, MAX_DATA = 0xFFFF, 256 << 20  # rpm refuses headers beyond its own limits too
# Tag types (rpm's header.h) and their alignment in the data store.
CHAR, INT8, INT16, INT32, INT64, STRING, BIN, STRING_ARRAY, I18NSTRING = range(1, 10)
_FIXED = {CHAR: 1, INT8: 1, INT16: 2, INT32: 4, INT64: 8, BIN: 1}
_STRINGS = (STRING, STRING_ARRAY, I18NSTRING)

TAG_IMMUTABLE = 63
TAG_SIZE, TAG_LONGSIZE, TAG_FILEMODES = 1009, 5009, 1030
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TAG_REQUIRENAME, TAG_REQUIREFLAGS = 1049, 1048
# Tags holding one value per file, in file order: filtered to the files kept.
PER_FILE_TAGS = frozenset((
    1027, 1028, 1030, 1031, 1032, 1033, 1034, 1035, 1036, 1037, 1039, 1040, 1045,
    1095, 1096, 1097, 1116, 1117, 1140, 1141, 1143, 1144, 1147, 1187, 5008, 5010,
))
# Tags of the signature header rpm copies into the installed header (header-only
# digests are recomputed, signatures dropped: they covered the original header).
SIG_SIZE, SIG_MD5, SIG_PAYLOADSIZE, SIG_LONGSIZE, SIG_LONGARCHIVESIZE = 1000, 1004, 1007, 270, 271
SIG_SHA256 = 273
TAG_SIGSIZE, TAG_SIGMD5, TAG_SHA1HEADER, TAG_SHA256HEADER = 257, 261, 269, 273
TAG_LONGSIGSIZE, TAG_LONGARCHIVESIZE, TAG_ARCHIVESIZE = 270, 271, 1046
TAG_INSTALLTIME, TAG_FILESTATES, TAG_INSTALLCOLOR, TAG_INSTALLTID = 1008, 1029, 1127, 1128
INSTALL_COLOR = 3  # rpm's %_transaction_color on x86_64 and aarch64 (ELF32 | ELF64)
# Requires that only matter while installing (scriptlet prereqs, rpmlib()) are not
# indexed (rpm's isInstallPreReq && !isErasePreReq).
_INSTALL_ONLY = (1 << 9) | (1 << 10) | (1 << 24) | (1 << 26) | (1 << 7) | (1 << 5)
_ERASE_ONLY = (1 << 11) | (1 << 12)

# The index tables rpm 4.18 keeps, in its order: (table, tag, key is a blob, has hnum index).
INDEXES = (
    ("Name", 1000, False, False), ("Basenames", 1117, False, True),
    ("Group", 1016, False, False), ("Requirename", 1049, False, True),
    ("Providename", 1047, False, True), ("Conflictname", 1054, False, True),
    ("Obsoletename", 1090, False, True), ("Triggername", 1066, False, True),
    ("Dirnames", 1118, False, True), ("Installtid", 1128, True, False),
    ("Sigmd5", 261, True, False), ("Sha1header", 269, False, False),
    ("Filetriggername", 5069, False, True), ("Transfiletriggername", 5079, False, True),
    ("Recommendname", 5046, False, True), ("Suggestname", 5049, False, True),
    ("Supplementname", 5052, False, True), ("Enhancename", 5055, False, True),
)
_DEDUP_INDEXES = frozenset((1066, 5069, 5079))  # rpm indexes each trigger name once


@dataclass(frozen=True)
class Tag:
    """One header entry: tag, type and its values (each element's raw big-endian bytes)."""

    tag: int
    type: int
    values: tuple[bytes, ...]

    def strings(self) -> list[str]:
        """The values of a string tag, decoded."""
        return [v[:-1].decode("utf-8", errors="surrogateescape") for v in self.values]

    def ints(self) -> list[int]:
        """The values of an integer tag."""
        return [int.from_bytes(v, "big") for v in self.values]


@dataclass(frozen=True)
class PackageHeader:
    """An RPM's main header (its region tag left out) and its signature header's tags."""

    name: str  # the RPM file, for messages
    tags: tuple[Tag, ...]
    signature: dict[int, Tag]

    def get(self, tag: int) -> Tag | None:
        """The entry of ``tag``, or None."""
        return next((t for t in self.tags if t.tag == tag), None)


def read_package_header(rpm_path: Path) -> PackageHeader:
    """Read the signature and main header of the RPM at ``rpm_path`` (not its payload).

    Raises BuildError naming the file for anything that is not a well-formed header
    with an immutable region, or a main header whose SHA-256 does not match the one
    its signature header gives.
    """
    name = Path(rpm_path).name
    try:
        with open(rpm_path, "rb") as handle:
            handle.seek(LEAD_SIZE)
            signature, _ = _read_blob(handle, name, "signature")
            handle.seek((handle.tell() + 7) // 8 * 8)  # the signature header is padded to 8
            main, main_bytes = _read_blob(handle, name, "main")
    except OSError as exc:
        raise BuildError(f"{name}: cannot read its header: {exc.strerror or exc}") from exc
    if not main or main[0].tag != TAG_IMMUTABLE:
        raise BuildError(f"{name}: the main header has no immutable region (rpm < 4.0 "
                         "package?); cannot record it in the rpm database")
    expected = {t.tag: t for t in signature}.get(SIG_SHA256)
    if expected is not None and expected.strings()[0] != hashlib.sha256(main_bytes).hexdigest():
        raise BuildError(f"{name}: the main header does not match the SHA-256 of its "
                         "signature header; refusing it")
    return PackageHeader(name, tuple(t for t in main if t.tag not in (61, 62, 63)),
                         {t.tag: t for t in signature if t.tag not in (61, 62, 63)})


def _read_blob(handle: BinaryIO, name: str, which: str) -> tuple[list[Tag], bytes]:
    """Parse the header at the file position of ``handle``; return its tags and bytes."""
    intro = handle.read(16)
    if len(intro) < 16 or intro[:3] != HEADER_MAGIC[:3]:
        raise BuildError(f"{name}: no {which} header where one should start; not an RPM")
    count, size = struct.unpack(">II", intro[8:])
    if count > MAX_INDEX or size > MAX_DATA:
        raise BuildError(f"{name}: {which} header of {count} tags and {size} bytes is "
                         "larger than rpm accepts")
    rest = handle.read(16 * count + size)
    if len(rest) < 16 * count + size:
        raise BuildError(f"{name}: truncated {which} header")
    return _parse_entries(rest, count, size, f"{name}: {which} header"), intro + rest


def _parse_entries(body: bytes, count: int, size: int, where: str) -> list[Tag]:
    """The tags of a header body (index entries, then ``size`` bytes of data)."""
    store = body[16 * count:]
    tags = []
    for i in range(count):
        tag, kind, offset, number = struct.unpack_from(">IIiI", body, 16 * i)
        if tag in (61, 62, 63):
            tags.append(Tag(tag, kind, ()))  # region tags: rebuilt, never copied
            continue
        if kind in _FIXED:
            width = _FIXED[kind]
            end = offset + width * number
            if offset < 0 or end > size:
                raise BuildError(f"{where}: tag {tag} lies outside the data store")
            values = tuple(store[offset + width * k:offset + width * (k + 1)]
                           for k in range(number))
        elif kind in _STRINGS:
            values_list, at = [], offset
            for _ in range(number):
                end = store.find(b"\0", at, size) if 0 <= at < size else -1
                if end < 0:
                    raise BuildError(f"{where}: string tag {tag} is not terminated")
                values_list.append(store[at:end + 1])
                at = end + 1
            values = tuple(values_list)
        else:
            raise BuildError(f"{where}: tag {tag} has unknown type {kind}")
        tags.append(Tag(tag, kind, values))
    return tags


def installed_header(header: PackageHeader, cut: PackageCut, *, install_time: int) -> bytes:
    """The blob rpm would store for ``header`` installed as far as ``cut`` took it."""
    region, appended = _installed_tags(header, cut, install_time)
    return _encode(region, appended=appended)[8:]  # the database stores no magic


def _installed_tags(header: PackageHeader, cut: PackageCut,
                    install_time: int) -> tuple[list[Tag], list[Tag]]:
    """The tags of the rebuilt region and the tags rpm's install step appends to it."""
    keep = _kept_files(header, header_paths(header), cut)
    region = [_with_size(t, cut.selected_bytes) for t in _filter_files(header, keep)]
    standalone = _encode(region)  # what the header digests cover: the region with magic
    appended = []
    sig = header.signature
    for sig_tag, tag in ((SIG_SIZE, TAG_SIGSIZE), (SIG_MD5, TAG_SIGMD5),
                         (SIG_LONGSIZE, TAG_LONGSIGSIZE),
                         (SIG_LONGARCHIVESIZE, TAG_LONGARCHIVESIZE),
                         (SIG_PAYLOADSIZE, TAG_ARCHIVESIZE)):
        if sig_tag in sig:
            appended.append(Tag(tag, sig[sig_tag].type, sig[sig_tag].values))
    for tag, digest in ((TAG_SHA1HEADER, hashlib.sha1(standalone)),
                        (TAG_SHA256HEADER, hashlib.sha256(standalone))):
        appended.append(Tag(tag, STRING, (digest.hexdigest().encode() + b"\0",)))
    when = (install_time & 0xFFFFFFFF).to_bytes(4, "big")
    appended += [Tag(TAG_INSTALLTIME, INT32, (when,)), Tag(TAG_INSTALLTID, INT32, (when,)),
                 Tag(TAG_INSTALLCOLOR, INT32, (INSTALL_COLOR.to_bytes(4, "big"),))]
    if keep:
        appended.append(Tag(TAG_FILESTATES, CHAR, (b"\0",) * len(keep)))  # all "normal"
    appended.sort(key=lambda t: t.tag)
    return region, appended


def index_keys(tags: Sequence[Tag]) -> list[tuple[str, str | bytes, int]]:
    """The index rows rpm adds for a header of ``tags``: (table, key, value index)."""
    by_tag = {t.tag: t for t in tags}
    rows: list[tuple[str, str | bytes, int]] = []
    for table, tag_id, blob_key, _ in INDEXES:
        tag = by_tag.get(tag_id)
        if tag is None:
            continue
        keys: list[str | bytes]
        if tag.type == BIN:
            keys = [b"".join(tag.values)]
        elif blob_key:
            # rpm keys integers by their bytes in host order: little-endian on the
            # x86_64 and aarch64 machines these images are for.
            keys = [value[::-1] for value in tag.values]
        else:
            # An I18N string is indexed by its untranslated (first) value.
            keys = [_text_key(v) for v in (tag.values[:1] if tag.type == I18NSTRING
                                           else tag.values)]
        flags = by_tag[TAG_REQUIREFLAGS].ints() if (
            tag_id == TAG_REQUIRENAME and TAG_REQUIREFLAGS in by_tag) else []
        seen: set[str | bytes] = set()
        for i, key in enumerate(keys):
            if flags and flags[i] & _INSTALL_ONLY and not flags[i] & _ERASE_ONLY:
                continue
            if tag_id in _DEDUP_INDEXES:
                if key in seen:
                    continue
                seen.add(key)
            rows.append((table, key, i))
    return rows


def _text_key(value: bytes) -> str | bytes:
    """A string value as rpm's TEXT key; its raw bytes if it is not UTF-8 (rpm's are raw)."""
    try:
        return value[:-1].decode("utf-8")
    except UnicodeDecodeError:
        return value[:-1]


def write_sqlite(path: Path, headers: Iterable[tuple[PackageHeader, PackageCut]], *,
                 install_time: int) -> None:
    """Write rpm's sqlite database of ``headers`` (in that order) to the new file ``path``."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        # rpm takes any page size; 1 KiB pages keep the 37 mostly empty tables and
        # indexes small (a fifth less than sqlite's default 4 KiB; the same gzip'd).
        connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        connection.execute("BEGIN")
        connection.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,"
                           "blob BLOB NOT NULL)")
        for table, _, blob_key, by_hnum in INDEXES:
            connection.execute(
                f"CREATE TABLE '{table}' (key '{'BLOB' if blob_key else 'TEXT'}' NOT NULL, "
                "hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES "
                "'Packages'(hnum))")
            if not blob_key:
                connection.execute(f"CREATE INDEX '{table}_key_idx' ON '{table}'(key ASC)")
            if by_hnum:
                connection.execute(f"CREATE INDEX '{table}_hnum_idx' ON '{table}'(hnum ASC)")
        for header, cut in headers:
            region, appended = _installed_tags(header, cut, install_time)
            hnum = connection.execute("INSERT INTO Packages (blob) VALUES (?)",
                                      (_encode(region, appended=appended)[8:],)).lastrowid
            for table, key, idx in index_keys(region + appended):
                connection.execute(f"INSERT INTO '{table}' (key, hnum, idx) VALUES (?, ?, ?)",
                                   (key, hnum, idx))
        connection.execute("COMMIT")
        connection.execute("VACUUM")  # compact, and laid out by content alone
    finally:
        connection.close()


def write_rpmdb(writer: RootWriter, headers: Sequence[tuple[PackageHeader, PackageCut]], *,
                install_time: int) -> GeneratedFile:
    """Write the rpm database of ``headers`` into the image at :data:`DB_PATH`; return it.

    Directories above it that the image lacks are made (0755, root, ``install_time``).
    Raises BuildError when a slice or a Distrofile file already put something there.
    """
    if writer.lexists(DB_PATH):
        raise BuildError(f"{DB_PATH} is already in the image (from "
                         f"{writer.origin.get(DB_PATH, 'an earlier step')}); drop it from the "
                         "slice or build with --no-rpmdb")
    parts = DB_PATH.split("/")[1:-1]
    for depth in range(1, len(parts) + 1):
        directory = "/" + "/".join(parts[:depth])
        if not writer.lexists(directory):
            writer.mkdir(directory, mode=0o755, uid=0, gid=0, mtime=install_time,
                         origin=ORIGIN)
    with tempfile.TemporaryDirectory(prefix="rpmdb-") as scratch:
        path = Path(scratch) / "rpmdb.sqlite"
        write_sqlite(path, headers, install_time=install_time)
        written = writer.copy_in(DB_PATH, path, mode=0o644, uid=0, gid=0, mtime=install_time,
                                 origin=ORIGIN)
    return GeneratedFile(DB_PATH, written.size, written.sha256, WHY)


def header_paths(header: PackageHeader) -> list[str]:
    """The absolute paths of the header's files, in header order."""
    basenames = header.get(TAG_BASENAMES)
    if basenames is None:
        return []
    dirnames = header.get(TAG_DIRNAMES)
    dirindexes = header.get(TAG_DIRINDEXES)
    dirs = dirnames.strings() if dirnames else []
    indexes = dirindexes.ints() if dirindexes else []
    if len(indexes) != len(basenames.values) or any(i >= len(dirs) for i in indexes):
        raise BuildError(f"{header.name}: corrupt header: dirindexes do not match basenames")
    return ["/" + posixpath.normpath(dirs[d] + b).lstrip("/")
            for d, b in zip(indexes, basenames.strings(), strict=True)]


def _kept_files(header: PackageHeader, paths: list[str], cut: PackageCut) -> list[int]:
    """Indexes of the header's files the image has: the cut's and their directories."""
    index = {path: i for i, path in enumerate(paths)}
    wanted: set[int] = set()
    modes = header.get(TAG_FILEMODES)
    mode_of = modes.ints() if modes else []
    for item in cut.files:
        if item.path not in index:
            raise BuildError(f"{header.name}: {item.path} is in the image but not in the "
                             "RPM's header")
        wanted.add(index[item.path])
        parts = item.path.split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            parent = index.get("/" + "/".join(parts[:depth]))
            if parent is not None and mode_of and mode_of[parent] & 0o170000 == 0o040000:
                wanted.add(parent)  # written by the cut with the RPM's mode and owner
    return sorted(wanted)


def _filter_files(header: PackageHeader, keep: list[int]) -> list[Tag]:
    """The header's tags with the per-file ones reduced to ``keep`` (and dirnames pruned)."""
    basenames = header.get(TAG_BASENAMES)
    count = len(basenames.values) if basenames else 0
    tags: list[Tag] = []
    dir_map: dict[int, int] = {}
    dirindexes = header.get(TAG_DIRINDEXES)
    if dirindexes is not None and keep:
        indexes = dirindexes.ints()  # decoded once: not once per kept file
        used = sorted({indexes[i] for i in keep})
        dir_map = {old: new for new, old in enumerate(used)}
    for tag in header.tags:
        if tag.tag in PER_FILE_TAGS:
            if len(tag.values) != count:
                raise BuildError(f"{header.name}: corrupt header: tag {tag.tag} has "
                                 f"{len(tag.values)} values for {count} files")
            if not keep:
                continue
            values = tuple(tag.values[i] for i in keep)
            if tag.tag == TAG_DIRINDEXES:
                values = tuple(dir_map[int.from_bytes(v, "big")].to_bytes(4, "big")
                               for v in values)
            tags.append(Tag(tag.tag, tag.type, values))
        elif tag.tag == TAG_DIRNAMES:
            if keep:
                tags.append(Tag(tag.tag, tag.type, tuple(tag.values[old] for old in dir_map)))
        else:
            tags.append(tag)
    return tags


def _with_size(tag: Tag, size: int) -> Tag:
    """``Size`` and ``LongSize`` say what the image holds of the package."""
    if tag.tag == TAG_SIZE and tag.type == INT32 and size <= 0xFFFFFFFF:
        return Tag(tag.tag, tag.type, (size.to_bytes(4, "big"),))
    if tag.tag == TAG_LONGSIZE and tag.type == INT64:
        return Tag(tag.tag, tag.type, (size.to_bytes(8, "big"),))
    return tag


def _encode(tags: Sequence[Tag], *, appended: Sequence[Tag] = ()) -> bytes:
    """A header (with magic) of ``tags`` in an immutable region, then ``appended`` tags.

    Data is laid out in entry order, each value aligned as rpm requires; the region's
    trailer (tag 63 with the negative size of the region's index) ends the region data.
    """
    entries: list[bytes] = []
    store = bytearray()

    def put(tag: Tag) -> None:
        store.extend(b"\0" * (-len(store) % _FIXED.get(tag.type, 1)))
        entries.append(struct.pack(">IIiI", tag.tag, tag.type, len(store), len(tag.values)))
        for value in tag.values:
            store.extend(value)

    region_count = len(tags) + 1
    for tag in tags:
        put(tag)
    trailer_at = len(store)
    store.extend(struct.pack(">IIiI", TAG_IMMUTABLE, BIN, -16 * region_count, 16))
    entries.insert(0, struct.pack(">IIiI", TAG_IMMUTABLE, BIN, trailer_at, 16))
    for tag in appended:
        put(tag)
    return (HEADER_MAGIC + struct.pack(">II", len(entries), len(store)) + b"".join(entries)
            + bytes(store))
