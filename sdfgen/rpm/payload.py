"""One streaming pass over an RPM's payload: decompress, walk the cpio, build file facts.

The payload is decompressed once, as a stream (gzip, bzip2, xz, lzma, zstd or none),
and walked with :mod:`sdfgen.rpm.cpio`. Every header file becomes a ``PackageFile``;
regular files starting with the ELF magic get ``ElfInfo`` from :mod:`sdfgen.rpm.elf`.

The compressed payload is hashed on the way through and checked against the header's
PAYLOADDIGEST at the end of the pass (so a caller of ``on_content`` must discard what
it wrote when RpmError is raised). A compressed stream cut short is RpmError
("truncated or corrupt zstd payload"), wherever the cut, also past the cpio trailer:
the stream is read to its end marker. Payload entries that are unsafe (absolute, ``..``)
or not in the header's file list are reported as ``PayloadProblem`` and never used.
A caller that wants the bytes of some files (the image builder) passes ``on_content``
and ``wants``; the bytes are streamed to it during the same pass and never buffered
for unselected files.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import posixpath
import shutil
import stat
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from sdfgen.errors import RpmError
from sdfgen.facts import ElfInfo, FileFlag, FileKind, PackageFile, PayloadProblem
from sdfgen.rpm.cpio import EntryStream, iter_entries
from sdfgen.rpm.elf import is_elf, read_elf
from sdfgen.rpm.header import (
    DIGEST_ALGOS,
    TAG_PAYLOADCOMPRESSOR,
    TAG_PAYLOADDIGEST,
    TAG_PAYLOADDIGESTALGO,
    TAG_PAYLOADFORMAT,
    HeaderFile,
    read_headers,
    tag_int,
    tag_str,
    tag_strs,
)
from sdfgen.rpm.zstdframes import ZstdFrames

ContentSink = Callable[[PackageFile, BinaryIO], None]
PathFilter = Callable[[str], bool]

# Magic bytes of each compressor's output; lzma "alone" has no magic to check.
# Symlinks followed within a package to find the object a soname names (ld.so: 40).
MAX_LINK_HOPS = 8
COMPRESSOR_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00",
                    "zstd": b"\x28\xb5\x2f\xfd", "lzma": b"", "none": b"0707"}
# What may follow the cpio trailer (padding) and is read so that the decompressor checks
# its end marker: a stream cut after the trailer is caught too.
TRAILING_MAX = 1 << 20
HEAD_BYTES = 512  # enough for the ELF magic and a shebang line
ELF_SPOOL_MAX = 64 << 20  # larger ELF objects go to a temporary file, not memory
READ_CHUNK = 1 << 16


@contextlib.contextmanager
def decompressed_payload(path: str | Path) -> Iterator[tuple[str, BinaryIO]]:
    """Yield (compressor name, the decompressed cpio stream) of the RPM at ``path``.

    For tools that want the raw payload (benchmarks, a plain extractor); the payload
    digest is not checked. Raises RpmError like ``read_rpm``.
    """
    name = str(path)
    try:
        fileobj = open(path, "rb", buffering=READ_CHUNK)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RpmError(f"{name}: cannot open: {exc.strerror or exc}") from exc
    with fileobj:
        headers = read_headers(fileobj, name)
        yield open_payload(PayloadDigest(fileobj, {}), headers, name)


class PayloadDigest(io.RawIOBase):
    """The compressed payload as read from the file, hashed on the way through.

    rpm records a digest of the compressed payload (PAYLOADDIGEST, rpm >= 4.14); a
    stored (uncompressed) zstd block or a plain payload has no checksum of its own, so
    this is what catches flipped bytes. Files without the tag are not checked.
    """

    def __init__(self, fileobj: BinaryIO, headers: dict[object, object]) -> None:
        super().__init__()
        self._file = fileobj
        expected = tag_strs(headers, TAG_PAYLOADDIGEST)
        algo = DIGEST_ALGOS.get(tag_int(headers, TAG_PAYLOADDIGESTALGO) or 8, "")
        self._expected = expected[0].lower() if expected else ""
        self._hash = hashlib.new(algo) if self._expected and algo else None
        self._head = b""  # bytes peeked at and not yet read
        self.frames: ZstdFrames | None = None  # set by open_payload for a zstd payload

    def readable(self) -> bool:
        return True

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer only at the end of the file), not consumed."""
        # Read, not the buffered file's peek: that returns what is left in its buffer,
        # which can be fewer bytes than a compressor's magic at a buffer boundary.
        while len(self._head) < size:
            more = self._file.read(size - len(self._head))
            if not more:
                break
            self._head += more
        return self._head[:size]

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            n = int(self._file.readinto(buffer) or 0)  # type: ignore[attr-defined]
        if n:
            if self._hash is not None:
                self._hash.update(memoryview(buffer)[:n])
            if self.frames is not None:
                self.frames.feed(memoryview(buffer)[:n])
        return n

    def verify(self, name: str) -> None:
        """Hash what the decompressor left unread, then compare; raise RpmError if off."""
        if self._hash is None:
            return
        while self.read(READ_CHUNK):
            pass
        if self._hash.hexdigest() != self._expected:
            raise RpmError(f"{name}: payload digest mismatch (corrupt payload)")


def open_payload(fileobj: PayloadDigest, headers: dict[object, object],
                 name: str) -> tuple[str, BinaryIO]:
    """Return (compressor name, the decompressed cpio stream) of the payload at ``fileobj``.

    The compressor the header declares must match the payload's first bytes; raises
    RpmError naming ``name`` otherwise, or for a payload that is missing or not cpio.
    """
    payload_format = tag_str(headers, TAG_PAYLOADFORMAT) or "cpio"
    if payload_format != "cpio":
        raise RpmError(f"{name}: unsupported payload format {payload_format!r}")
    declared = tag_str(headers, TAG_PAYLOADCOMPRESSOR)
    head = fileobj.peek(6)[:6]
    if not head:
        raise RpmError(f"{name}: truncated RPM: no payload after the header")
    if not declared:
        # No tag means gzip to rpm, whose gzdio also passes plain data through; rpmbuild
        # writes no tag for an uncompressed (w0.ufdio) payload, so look at the bytes.
        declared = "none" if head[:4] == b"0707"[:len(head)] else "gzip"
    if declared not in COMPRESSOR_MAGIC:
        raise RpmError(f"{name}: unknown payload compressor {declared!r}")
    magic = COMPRESSOR_MAGIC[declared]
    if len(head) < len(magic) and magic.startswith(head):
        label = "uncompressed" if declared == "none" else declared
        raise RpmError(f"{name}: truncated or corrupt {label} payload (the file ends "
                       f"{len(head)} byte(s) into it)")
    if not head.startswith(magic):
        raise RpmError(f"{name}: payload is not {declared} data (starts with {head!r})")
    source = cast(BinaryIO, fileobj)
    raw: BinaryIO
    if declared == "gzip":
        raw = cast(BinaryIO, gzip.GzipFile(fileobj=source, mode="rb"))
    elif declared == "bzip2":
        raw = cast(BinaryIO, bz2.BZ2File(source))
    elif declared in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if declared == "xz" else lzma.FORMAT_ALONE
        raw = cast(BinaryIO, lzma.LZMAFile(source, format=fmt))
    elif declared == "zstd":
        fileobj.frames = ZstdFrames()
        raw = cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(
            source, read_across_frames=True))
    else:
        raw = source
    guarded = _GuardedReader(raw, name, declared, fileobj.frames)
    return declared, io.BufferedReader(guarded, READ_CHUNK)  # type: ignore[return-value]


def finish_payload(payload: BinaryIO) -> None:
    """Read the decompressed ``payload`` past the cpio trailer to its end (at most
    TRAILING_MAX bytes), so that a compressed stream cut short after the trailer raises
    RpmError as one cut anywhere else does."""
    left = TRAILING_MAX
    while left > 0:
        chunk = payload.read(min(READ_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


class _GuardedReader(io.RawIOBase):
    """Turns a decompressor's own errors into RpmError at the point of reading, and its
    end into one when the compressed stream was cut short (see ZstdFrames for zstd).

    Wrapping each read (rather than the whole pass) keeps exceptions raised by the
    caller's ``on_content`` (a full disk while copying) what they are.
    """

    def __init__(self, inner: BinaryIO, name: str, compressor: str,
                 frames: ZstdFrames | None) -> None:
        super().__init__()
        self._inner = inner
        self._name = name
        self._compressor = compressor
        self._frames = frames

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        except EOFError as exc:
            # gzip, bzip2, xz and lzma say so when their input ends before the end marker.
            raise RpmError(self._truncated()) from exc
        except (OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
            raise RpmError(f"{self._name}: corrupt {self._compressor} payload: "
                           f"{_one_line(exc)}") from exc
        # zstandard ends quietly when its input ends inside a frame: ask the frames.
        if not n and self._frames is not None and not self._frames.complete:
            if self._frames.malformed:
                raise RpmError(f"{self._name}: corrupt zstd payload: not a zstd frame")
            raise RpmError(self._truncated())
        return int(n or 0)

    def _truncated(self) -> str:
        return (f"{self._name}: truncated or corrupt {self._compressor} payload (the "
                "compressed stream ends before its end marker)")


class _Prefixed(io.RawIOBase):
    """The bytes already read from an entry (its head) followed by the rest of it.

    ``read(n)`` returns n bytes until the end, like a buffered reader, without one:
    the rest is read straight from the entry stream (one copy less per chunk).
    """

    def __init__(self, head: bytes, rest: EntryStream) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        head = self._head
        if not head:
            return self._rest.read(size)
        if size is None or size < 0:
            self._head = b""
            return head + self._rest.read()
        if size <= len(head):
            self._head = head[size:]
            return head[:size]
        self._head = b""
        return head + self._rest.read(size - len(head))

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class PayloadWalk:
    """State of the one pass over the cpio stream."""

    def __init__(self, name: str, files: list[HeaderFile], elf: bool,
                 on_content: ContentSink | None, wants: PathFilter | None,
                 elf_names: Collection[str] | None = None) -> None:
        self.name = name
        self.files = files
        self.by_path = {f.path: f for f in files}
        self.elf = elf
        # None: analyse every ELF object; else only these paths (see elf_paths_named).
        self.elf_paths = (None if elf_names is None
                          else elf_paths_named(self.by_path, frozenset(elf_names)))
        self.on_content = on_content
        self.wants = wants
        self.problems: list[PayloadProblem] = []
        self.seen: set[int] = set()
        self.built: dict[int, PackageFile] = {}
        # Hardlink sets: regular, non-ghost files sharing (device, inode), header order.
        groups: dict[tuple[int, int], list[HeaderFile]] = {}
        for f in files:
            if stat.S_ISREG(f.mode) and FileFlag.GHOST not in f.flags:
                groups.setdefault(f.inode, []).append(f)
        self.links = {f.index: members for members in groups.values() if len(members) > 1
                      for f in members}

    def run(self, payload: BinaryIO) -> None:
        """Walk the cpio ``payload`` once, building file facts and noting problems.

        Raises CpioError for a corrupt archive, RpmError for a corrupt compressed stream.
        """
        for entry, stream in iter_entries(payload):
            header = self._match(entry.name)
            if header is None:
                continue
            self.seen.add(header.index)
            if not stat.S_ISREG(header.mode):
                self.built[header.index] = self._package_file(header)
                continue
            if header.index in self.built:
                continue  # a hardlink member whose set's data has already been read
            members = self.links.get(header.index, [header])
            if header.size is None:
                header.size = entry.size  # sizes were INT64 (LONGFILESIZES): trust the payload
            expected = header.size
            # rpm stores a hardlink set's data once, with its last member; the others
            # have size 0 and wait for it (an all-empty set completes with its last).
            complete = all(m.index in self.seen for m in members)
            if entry.size == 0 and expected > 0 and len(members) > 1 and not complete:
                continue
            if entry.size != expected:
                self.problems.append(PayloadProblem(
                    entry.name, f"size {entry.size} differs from header size {expected}"))
                continue
            self._content(members, stream)

    def _match(self, stored: str) -> HeaderFile | None:
        rel = stored[2:] if stored.startswith("./") else stored
        problem = None
        if rel.startswith("/"):
            problem = "absolute path in payload"
        elif ".." in rel.split("/"):
            problem = "path escapes the root (..)"
        else:
            header = self.by_path.get("/" + posixpath.normpath(rel).lstrip("/"))
            if header is None:
                problem = "not in header file list"
            elif header.index in self.seen:
                problem = "duplicate entry in payload"
            elif FileFlag.GHOST in header.flags:
                problem = "ghost file has payload data"
            else:
                return header
        self.problems.append(PayloadProblem(stored, problem))
        return None

    def _content(self, members: list[HeaderFile], stream: EntryStream) -> None:
        head = stream.read(HEAD_BYTES)
        content: BinaryIO = cast(BinaryIO, _Prefixed(head, stream))
        elf_info: ElfInfo | None = None
        spool: BinaryIO | None = None
        if self.elf and is_elf(head) and (
                self.elf_paths is None or any(m.path in self.elf_paths for m in members)):
            # pyelftools needs random access: hold the object once (in memory, or in a
            # temporary file above ELF_SPOOL_MAX), analyse it, then replay it to
            # on_content. A plain BytesIO, not a SpooledTemporaryFile: pyelftools
            # makes many tiny reads and the wrapper's per-call cost shows.
            if stream.remaining + len(head) <= ELF_SPOOL_MAX:
                spool = io.BytesIO(head + stream.read())
            else:
                spool = cast(BinaryIO, tempfile.TemporaryFile())
                shutil.copyfileobj(content, spool, READ_CHUNK)
            elf_info = read_elf(spool)
            spool.seek(0)
            content = spool
        shebang = _shebang(head)
        first = members[0].path
        for member in members:
            link = first if member is not members[0] else None
            self.built[member.index] = self._package_file(member, elf_info, shebang, link)
        try:
            if self.on_content is not None:
                wanted = [m for m in members if self.wants is None or self.wants(m.path)]
                if wanted:
                    self.on_content(self.built[wanted[0].index], content)
        finally:
            if spool is not None:
                spool.close()

    def _package_file(self, header: HeaderFile, elf_info: ElfInfo | None = None,
                      shebang: str | None = None, hardlink_to: str | None = None) -> PackageFile:
        mode = header.mode
        if stat.S_ISDIR(mode):
            kind = FileKind.DIR
        elif stat.S_ISLNK(mode):
            kind = FileKind.SYMLINK
        elif stat.S_ISREG(mode):
            kind = FileKind.HARDLINK if hardlink_to else FileKind.FILE
        else:
            kind = FileKind.OTHER
        return PackageFile(
            path=header.path, kind=kind, mode=stat.S_IMODE(mode), user=header.user,
            group=header.group, size=header.size or 0, digest=header.digest,
            flags=header.flags,
            link_target=header.link_to if kind is FileKind.SYMLINK else hardlink_to,
            elf=elf_info, shebang=shebang, mtime=header.mtime,
        )

    def package_files(self) -> tuple[PackageFile, ...]:
        """Every header file in header order; header-only ones from the header alone."""
        result = []
        for header in self.files:
            built = self.built.get(header.index)
            if built is None:
                if header.index in self.seen:
                    self.problems.append(PayloadProblem(
                        "." + header.path, "hardlink set without data in payload"))
                elif FileFlag.GHOST not in header.flags:
                    self.problems.append(PayloadProblem(
                        "." + header.path, "in header file list but missing from payload"))
                members = self.links.get(header.index, [header])
                link = members[0].path if header is not members[0] else None
                built = self._package_file(header, hardlink_to=link)
            result.append(built)
        return tuple(result)


def elf_paths_named(by_path: Mapping[str, HeaderFile], names: frozenset[str]) -> set[str]:
    """The paths whose base name is in ``names`` or is where such a symlink leads.

    Resolving a soname needs the ELF facts of the file the loader would open: one named
    like the soname, or the file a symlink of that name points to. Targets are taken by
    base name (following at most MAX_LINK_HOPS links), so a target reached through a
    directory symlink (``/lib64`` -> ``usr/lib64``) is found too.
    """
    links: dict[str, set[str]] = {}
    for path, header in by_path.items():
        if stat.S_ISLNK(header.mode) and header.link_to:
            links.setdefault(posixpath.basename(path), set()).add(
                posixpath.basename(header.link_to.rstrip("/")))
    wanted = set(names)
    frontier = set(names)
    for _ in range(MAX_LINK_HOPS):
        frontier = {t for n in frontier for t in links.get(n, ())} - wanted
        if not frontier:
            break
        wanted |= frontier
    return {path for path in by_path if posixpath.basename(path) in wanted}


def _shebang(head: bytes) -> str | None:
    """A script's interpreter: the shebang's first word, and for ``env`` the program
    it runs too (``/usr/bin/env python3``; env's options and VAR=value skipped)."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", errors="replace")
    words = line.split()
    if not words:
        return None
    if words[0].rsplit("/", 1)[-1] == "env":
        program = next((w for w in words[1:] if not w.startswith("-") and "=" not in w), None)
        if program is not None:
            return f"{words[0]} {program}"
    return words[0]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
