"""Follow the frames of a zstd stream as its compressed bytes pass by.

zstandard's ``stream_reader`` ends quietly when its input ends inside a frame, so a
payload cut short would read as a shorter (or empty) one. :class:`ZstdFrames` walks
the frame and block headers (RFC 8878, section 3.1) of the same bytes, skipping block
contents, and says whether the stream ended where a frame ends. It checks nothing the
decompressor checks; it only needs the sizes, so its cost is a few steps per block.
"""

from __future__ import annotations

ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MASK = 0xFFFFFFF0
SKIPPABLE_MAGIC = 0x184D2A50
# Frame_Content_Size field sizes by FCS_Flag, and Dictionary_ID sizes by DID_Flag.
_FCS_SIZES = (0, 2, 4, 8)
_DID_SIZES = (0, 1, 2, 4)
_RLE_BLOCK = 1
_RESERVED_BLOCK = 3


class ZstdFrames:
    """The frame structure of a zstd stream fed in pieces; see :attr:`complete`."""

    def __init__(self) -> None:
        self._state = "magic"  # what the next ``_need`` bytes are
        self._need = 4
        self._buf = bytearray()
        self._skip = 0  # bytes to pass over (block contents, optional header fields)
        self._checksum = False
        self.frames = 0
        self.malformed = False

    @property
    def complete(self) -> bool:
        """Whether what was fed is one or more whole frames (nothing cut short)."""
        return (not self.malformed and self.frames > 0 and self._state == "magic"
                and not self._buf and not self._skip)

    def feed(self, data: bytes | memoryview) -> None:
        """Take the next compressed bytes."""
        pos, end = 0, len(data)
        while pos < end and not self.malformed:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            step = min(self._need - len(self._buf), end - pos)
            self._buf += data[pos:pos + step]
            pos += step
            if len(self._buf) == self._need:
                field = int.from_bytes(self._buf, "little")
                self._buf.clear()
                self._advance(field)

    def _advance(self, field: int) -> None:
        if self._state == "magic":
            if field == ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif field & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
                self._state, self._need = "skippable", 4
            else:
                self.malformed = True
        elif self._state == "skippable":
            self._skip = field
            self._state, self._need = "magic", 4
            self.frames += 1
        elif self._state == "descriptor":
            single_segment = bool(field & 0x20)
            fcs = _FCS_SIZES[field >> 6] or (1 if single_segment else 0)
            self._checksum = bool(field & 0x04)
            # Window_Descriptor, Dictionary_ID and Frame_Content_Size, then the blocks.
            self._skip = (0 if single_segment else 1) + _DID_SIZES[field & 0x03] + fcs
            self._state, self._need = "block", 3
        elif self._state == "block":
            block_type = (field >> 1) & 0x03
            if block_type == _RESERVED_BLOCK:
                self.malformed = True
                return
            self._skip = 1 if block_type == _RLE_BLOCK else field >> 3
            if field & 0x01:  # Last_Block
                if self._checksum:
                    self._state, self._need = "checksum", 4
                else:
                    self._state, self._need = "magic", 4
                    self.frames += 1
        else:  # checksum
            self._state, self._need = "magic", 4
            self.frames += 1
