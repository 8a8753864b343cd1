"""Time read_rpm on the biggest RPM given, against just decompressing its payload.

    .venv/bin/python benchmarks/rpm_read.py PKG.rpm [PKG.rpm ...] [--repeat N]

Prints, for the biggest file: the payload decompressed to nowhere in Python (the
floor for a single pass), `zstd -dc` on the raw payload when it is zstd and the tool
is installed, read_rpm without ELF analysis, and read_rpm with it; each the best of
N runs. The difference to the floor is the single-pass overhead of the cpio walk,
header matching and ELF analysis.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sdfgen.rpm.payload import decompressed_payload
from sdfgen.rpm.reader import read_rpm

CHUNK = 1 << 20


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs of ``run``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def decompress_only(path: Path) -> int:
    """Decompress the payload and discard it; return its size."""
    total = 0
    with decompressed_payload(path) as (_, stream):
        while chunk := stream.read(CHUNK):
            total += len(chunk)
    return total


def payload_offset(path: Path) -> int:
    """Where the compressed payload starts (the end of the main header)."""
    import rpmfile  # benchmark-only: the library reads headers in sdfgen.rpm.header

    with rpmfile.open(str(path)) as rpm:
        return int(rpm.data_offset)


def zstd_cli(path: Path) -> None:
    with path.open("rb") as src:
        src.seek(payload_offset(path))
        subprocess.run(["zstd", "-dc"], stdin=src, stdout=subprocess.DEVNULL, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rpms", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rpm = max(args.rpms, key=lambda p: p.stat().st_size)

    package = read_rpm(rpm)
    payload_size = decompress_only(rpm)
    elf_count = sum(1 for f in package.files if f.elf is not None)
    print(f"file:        {rpm} ({rpm.stat().st_size / 1e6:.1f} MB, "
          f"{package.payload_compressor}, payload {payload_size / 1e6:.1f} MB, "
          f"{len(package.files)} files, {elf_count} ELF)")

    floor = best_of(args.repeat, lambda: decompress_only(rpm))
    rows = [("decompress only (Python)", floor)]
    if package.payload_compressor == "zstd" and shutil.which("zstd"):
        rows.append(("zstd -dc (CLI)", best_of(args.repeat, lambda: zstd_cli(rpm))))
    rows.append(("read_rpm(elf=False)", best_of(args.repeat, lambda: read_rpm(rpm, elf=False))))
    rows.append(("read_rpm(elf=True)", best_of(args.repeat, lambda: read_rpm(rpm))))
    for label, seconds in rows:
        rate = payload_size / seconds / 1e6
        print(f"{label:26s} {seconds:7.3f} s  {rate:8.1f} MB/s  x{seconds / floor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
