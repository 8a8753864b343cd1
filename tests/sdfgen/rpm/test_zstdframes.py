"""ZstdFrames: whole frames from zstandard itself are complete, every cut of them is not."""

from __future__ import annotations

import random

import pytest
import zstandard

from sdfgen.rpm.zstdframes import ZstdFrames


def frames_of(data: bytes, step: int) -> ZstdFrames:
    frames = ZstdFrames()
    for pos in range(0, len(data), step):
        frames.feed(memoryview(data)[pos:pos + step])
    return frames


def stream() -> tuple[bytes, set[int]]:
    """Two frames (with and without checksum and content size) around a skippable one,
    and the offsets where a frame ends."""
    text = b"a line of text that compresses\n" * 20_000  # several blocks, some RLE-like
    first = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(text)
    second = zstandard.ZstdCompressor(write_content_size=False).compress(
        random.Random(12).randbytes(200_000) + bytes(70_000))  # raw blocks, then one of zeros
    skippable = (0x184D2A5F).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"skip!"
    ends = {len(first), len(first) + len(skippable), len(first) + len(skippable) + len(second)}
    return first + skippable + second, ends


@pytest.mark.parametrize("step", [1, 7, 65536])
def test_whole_frames_are_complete(step: int) -> None:
    data, _ = stream()
    frames = frames_of(data, step)
    assert frames.complete and frames.frames == 3
    assert zstandard.ZstdDecompressor().stream_reader(
        data, read_across_frames=True).read()[:10] == b"a line of "


def test_every_cut_is_incomplete() -> None:
    data, ends = stream()
    # Cuts near the start, the end and every frame end, and a spread in between.
    cuts = set(range(0, 64)) | set(range(0, len(data), 997))
    for end in ends:
        cuts |= set(range(end - 64, end + 64))
    for cut in sorted(c for c in cuts - ends if c < len(data)):
        assert not frames_of(data[:cut], 4096).complete, cut


def test_junk_is_malformed() -> None:
    frames = frames_of(b"not zstd at all", 4)
    assert frames.malformed and not frames.complete
