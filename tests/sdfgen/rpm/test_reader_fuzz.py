"""A bounded, deterministic fuzz of read_rpm over mutated real RPMs (issue 12).

Small RPMs (a script, text, an ELF library, a symlink, a hardlink pair) are built with
rpmbuild for several payload compressors, then mutated 300 times from a fixed seed:
bytes flipped in the header or the payload, runs overwritten, the file cut short, bytes
inserted or deleted; half of the payload mutations get a payload digest recomputed as a
crafter would, so the damage reaches the cpio and ELF readers instead of stopping at the
digest. Every case must either read or raise RpmError (a SdfgenError) with a one-line
message naming the file: never another exception.
"""

from __future__ import annotations

import hashlib
import random
import traceback
from pathlib import Path
from typing import BinaryIO

import pytest

from sdfgen.errors import RpmError, SdfgenError
from sdfgen.facts import PackageFile
from sdfgen.rpm.header import read_headers
from sdfgen.rpm.reader import read_rpm
from tests.fixtures.builders import build_rpm, compile_c

SEED = 20261130
CASES = 300
COMPRESSORS = {"none": "w0.ufdio", "gzip": "w9.gzdio", "xz": "w6.xzdio",
               "zstd": "w19.zstdio", "bzip2": "w9.bzdio", "lzma": "w6.lzdio"}
FILES = """\
/usr/bin/fuzz.sh
/usr/lib64/libfuzz.so.1
/usr/lib64/libfuzz.so
/usr/share/fuzz/a
/usr/share/fuzz/b
/usr/share/fuzz/words
"""


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, int]]:
    """Per compressor: the RPM's bytes and where its payload starts."""
    work = tmp_path_factory.mktemp("fuzz")
    tree = work / "tree"
    for directory in ("usr/bin", "usr/lib64", "usr/share/fuzz"):
        (tree / directory).mkdir(parents=True)
    (tree / "usr/bin/fuzz.sh").write_text("#!/bin/sh\necho fuzz\n")
    (tree / "usr/bin/fuzz.sh").chmod(0o755)
    compile_c(tree / "usr/lib64/libfuzz.so.1", "int fuzz(void) { return 7; }\n",
              "-shared", "-fPIC", "-Wl,-soname,libfuzz.so.1")
    (tree / "usr/lib64/libfuzz.so").symlink_to("libfuzz.so.1")
    (tree / "usr/share/fuzz/a").write_text("linked\n")
    (tree / "usr/share/fuzz/b").hardlink_to(tree / "usr/share/fuzz/a")
    words = random.Random(SEED)
    (tree / "usr/share/fuzz/words").write_text(
        " ".join(words.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(3000)))
    result = {}
    for compressor, payload in COMPRESSORS.items():
        (work / compressor).mkdir()
        rpm = build_rpm(work / compressor, "fuzz", tree, FILES, payload=payload)
        with rpm.open("rb") as fileobj:
            read_headers(fileobj, str(rpm))
            start = fileobj.tell()
        result[compressor] = (rpm.read_bytes(), start)
    return result


def mutate(rng: random.Random, blob: bytes, start: int) -> tuple[str, bytes]:
    """One mutation of ``blob`` (payload at ``start``): a description and the bytes."""
    kind = rng.choice(["flip-header", "flip-payload", "flip-payload", "run", "cut",
                       "insert", "delete"])
    data = bytearray(blob)
    if kind.startswith("flip"):
        low, high = (0, start) if kind == "flip-header" else (start, len(blob))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(low, high)] ^= rng.randint(1, 255)
    elif kind == "run":
        at = rng.randrange(len(blob))
        data[at:at + rng.randint(2, 64)] = bytes([rng.choice([0, 0xFF])]) * rng.randint(2, 64)
    elif kind == "cut":
        del data[rng.randrange(len(blob)):]
    elif kind == "insert":
        at = rng.randrange(len(blob))
        data[at:at] = rng.randbytes(rng.randint(1, 16))
    else:
        at = rng.randrange(len(blob))
        del data[at:at + rng.randint(1, 16)]
    mutated = bytes(data)
    if kind in ("flip-payload", "run") and mutated[:start] == blob[:start] and rng.random() < 0.5:
        # Forge the digest over the mutated payload (the header signature is not checked).
        old = hashlib.sha256(blob[start:]).hexdigest().encode()
        new = hashlib.sha256(mutated[start:]).hexdigest().encode()
        mutated = mutated[:start].replace(old, new) + mutated[start:]
        kind += "+digest"
    return kind, mutated


def _read_all(file: PackageFile, stream: BinaryIO) -> None:
    """A content sink like the builder's: every byte of every regular file is read."""
    while stream.read(1 << 16):
        pass


def test_mutated_rpms_read_or_raise_one_line_errors(
        seeds: dict[str, tuple[bytes, int]], tmp_path: Path) -> None:
    rng = random.Random(SEED)
    outcomes = {"read": 0, "error": 0}
    crashes: list[str] = []
    path = tmp_path / "mutant.rpm"
    for case in range(CASES):
        compressor = rng.choice(sorted(seeds))
        blob, start = seeds[compressor]
        kind, mutated = mutate(rng, blob, start)
        path.write_bytes(mutated)
        try:
            read_rpm(path, on_content=_read_all)
            outcomes["read"] += 1
        except RpmError as exc:
            message = str(exc)
            if not message.startswith(f"{path}: ") or "\n" in message:
                crashes.append(f"case {case} ({compressor}, {kind}): message {message!r}")
            outcomes["error"] += 1
        except SdfgenError as exc:  # the base class is an answer too, though not expected
            crashes.append(f"case {case} ({compressor}, {kind}): {type(exc).__name__} {exc}")
        except Exception:  # noqa: BLE001 - any other exception is what this test finds
            crashes.append(f"case {case} ({compressor}, {kind}):\n{traceback.format_exc()}")
    assert not crashes, "\n".join(crashes[:5])
    assert outcomes["read"] + outcomes["error"] == CASES
    # Most mutations break the file; some (a flipped byte in a tag nothing reads, a
    # forged digest over a payload whose damage cpio tolerates) still read.
    assert outcomes["error"] >= CASES // 2, outcomes
    assert outcomes["read"] >= 5, outcomes
