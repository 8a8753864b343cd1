"""A streaming reader for cpio "newc" archives, the payload format of RPM packages.

It reads strictly sequentially (no seek), so it works on a decompressor's output: each
entry's data is handed out as a bounded stream, and whatever the consumer leaves
unread is skipped before the next header is parsed. Nothing is buffered beyond one
read chunk.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sdfgen.errors import RpmError

NEWC_MAGIC = b"070701"
CRC_MAGIC = b"070702"
# rpm >= 4.12 writes this "stripped" variant for packages with files >= 4 GiB: entries
# carry only an index into the header's file list, so it needs a different reader.
STRIPPED_MAGIC = b"07070X"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110
# Names in rpm payloads are paths; anything longer than PATH_MAX is corruption.
MAX_NAME = 4096
CHUNK = 1 << 16


class CpioError(RpmError):
    """The cpio stream is malformed or truncated (the message names no file)."""


@dataclass(frozen=True)
class CpioEntry:
    """One cpio header: the name as stored and the numeric fields that matter."""

    name: str
    ino: int
    mode: int  # full st_mode: file type bits and permission bits
    uid: int
    gid: int
    nlink: int
    mtime: int
    size: int

    @property
    def file_type(self) -> int:
        return self.mode & 0o170000


class EntryStream(io.RawIOBase):
    """The data of one entry: reads at most ``size`` bytes from the archive stream."""

    def __init__(self, source: BinaryIO, size: int, name: str) -> None:
        super().__init__()
        self._source = source
        self._left = size
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        want = min(len(buffer), self._left)
        chunk = self._source.read(want)
        if not chunk:
            raise CpioError(f"payload truncated in the data of {self._name!r}")
        n = len(chunk)
        buffer[:n] = chunk
        self._left -= n
        return n

    def read(self, size: int | None = -1) -> bytes:
        # A direct read avoids RawIOBase's default readall() loop of small reads.
        if self._left <= 0:
            return b""
        if size is None or size < 0 or size > self._left:
            size = self._left
        chunk = _read_exact(self._source, size, f"the data of {self._name!r}")
        self._left -= len(chunk)
        return chunk

    def drain(self) -> None:
        """Skip what the consumer did not read, so the next header can be parsed."""
        while self._left > 0:
            self.read(min(CHUNK, self._left))

    @property
    def remaining(self) -> int:
        return self._left


def iter_entries(source: BinaryIO) -> Iterator[tuple[CpioEntry, EntryStream]]:
    """Yield each entry of a newc archive with a stream over its data, up to the trailer.

    The stream is valid only until the iterator is advanced; unread data is skipped
    then. Raises CpioError on a bad magic, a bad field or a truncated archive.
    """
    # Each padding is read together with what follows it (a header, a name), so an
    # entry costs two reads of the source, not four.
    pad = 0  # padding before the next header (after the previous entry's data)
    first = True
    name = ""
    while True:
        raw = _read_some(source, pad + HEADER_SIZE)
        if len(raw) < pad + HEADER_SIZE:
            if first and not raw:
                raise CpioError("payload is empty (no cpio trailer)")
            if len(raw) < pad:
                raise CpioError(f"payload truncated in the padding after {name!r}")
            raise CpioError("payload truncated in a cpio header")
        first = False
        ino, mode, uid, gid, nlink, mtime, size, namesize = _parse_header(raw[pad:])
        # Header and name end 4-aligned: 110 + namesize + padding.
        name_pad = (-(HEADER_SIZE + namesize)) % 4
        name_raw = _read_some(source, namesize + name_pad)
        if len(name_raw) < namesize + name_pad:
            if len(name_raw) < namesize:
                raise CpioError("payload truncated in a cpio entry name")
            raise CpioError("payload truncated in the padding after a cpio name")
        if name_raw[namesize - 1] != 0:
            raise CpioError("cpio entry name is not NUL-terminated")
        name = name_raw[:namesize - 1].decode("utf-8", errors="surrogateescape")
        if name == TRAILER:
            return
        stream = EntryStream(source, size, name)
        yield CpioEntry(name, ino, mode, uid, gid, nlink, mtime, size), stream
        stream.drain()
        pad = -size % 4


_FIELDS = struct.Struct(">13I")


def _parse_header(raw: bytes) -> tuple[int, int, int, int, int, int, int, int]:
    """The (ino, mode, uid, gid, nlink, mtime, size) fields and the name size."""
    magic = raw[:6]
    if magic != NEWC_MAGIC and magic != CRC_MAGIC:
        if magic == STRIPPED_MAGIC:
            raise CpioError("stripped cpio payload (rpm large-file format) is not supported")
        raise CpioError(f"bad cpio magic {magic!r} (expected newc 070701)")
    # One C-level conversion of the 13 eight-digit hex fields instead of 13 int() calls;
    # anything but 104 hex digits (signs, spaces, junk) is refused.
    try:
        fields = _FIELDS.unpack(bytes.fromhex(raw[6:HEADER_SIZE].decode("ascii")))
    except (ValueError, struct.error):
        raise CpioError(f"bad cpio header field in {raw[:HEADER_SIZE]!r}") from None
    namesize = fields[11]
    if not 1 <= namesize <= MAX_NAME:
        raise CpioError(f"bad cpio name size {namesize}")
    return fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], namesize


def _read_some(source: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while data and got < size:
        data = source.read(size - got)
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _read_exact(source: BinaryIO, size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) == size:
        return data
    data = data + _read_some(source, size - len(data)) if data else data
    if len(data) < size:
        raise CpioError(f"payload truncated in {what}")
    return data
