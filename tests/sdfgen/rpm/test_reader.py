"""read_rpm over real RPMs built by rpmbuild in the test, for every payload compressor."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import BinaryIO

import pytest

from sdfgen.errors import RpmError
from sdfgen.facts import FileFlag, FileKind, PackageFile, PayloadProblem
from sdfgen.rpm import payload as rpmpayload
from sdfgen.rpm.cpio import CpioError, iter_entries
from sdfgen.rpm.header import read_headers
from sdfgen.rpm.payload import decompressed_payload
from sdfgen.rpm.reader import read_rpm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
from builders import build_rpm, compile_c, patch_payload_names  # noqa: E402

COMPRESSORS = {
    "gzip": "w9.gzdio", "xz": "w6.xzdio", "lzma": "w6.lzdio", "zstd": "w19.zstdio",
    "bzip2": "w9.bzdio", "none": "w0.ufdio",
}

RICH_FILES = """\
%dir /var/lib/demo
/usr/bin/tool.sh
/usr/bin/pyscript
/usr/bin/ha
/usr/bin/hb
%attr(4755,root,root) /usr/bin/suid
/usr/lib64/libdemo.so.1.0
/usr/lib64/libdemo.so.1
/usr/share/demo/empty
%attr(0640,root,bin) /etc/secret
%config(noreplace) /etc/demo.conf
%doc /usr/share/doc/demo/README
%license /usr/share/licenses/demo/LICENSE
%ghost /var/log/demo.log
"""


def make_rich_tree(root: Path) -> None:
    """A tree with one of each kind of entry the reader must classify."""
    for d in ("usr/bin", "usr/lib64", "usr/share/demo", "etc", "var/lib/demo",
              "usr/share/doc/demo", "usr/share/licenses/demo"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/tool.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "usr/bin/pyscript").write_text("#! /usr/bin/env python3\nprint(1)\n")
    (root / "usr/bin/ha").write_text("same bytes\n")
    os.link(root / "usr/bin/ha", root / "usr/bin/hb")
    (root / "usr/bin/suid").write_text("not really a program\n")
    compile_c(root / "usr/lib64/libdemo.so.1.0", "int demo(void) { return 42; }\n",
              "-shared", "-fPIC", "-Wl,-soname,libdemo.so.1")
    (root / "usr/lib64/libdemo.so.1").symlink_to("libdemo.so.1.0")
    (root / "usr/share/demo/empty").write_bytes(b"")
    (root / "etc/secret").write_text("s3cret\n")
    (root / "etc/demo.conf").write_text("key = value\n")
    (root / "usr/share/doc/demo/README").write_text("read me\n")
    (root / "usr/share/licenses/demo/LICENSE").write_text("MIT\n")
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o755 if "bin" in path.parts or path.suffix == ".0" else 0o644)


@pytest.fixture(scope="module")
def rich_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rich") / "root"
    make_rich_tree(root)
    return root


@pytest.fixture(scope="module", params=sorted(COMPRESSORS))
def rich_rpm(request: pytest.FixtureRequest, rich_tree: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    work = tmp_path_factory.mktemp(f"rpm-{request.param}")
    return request.param, build_rpm(work, "demo", rich_tree, RICH_FILES,
                                    payload=COMPRESSORS[request.param])


class Collector:
    """An on_content sink that records every call and the bytes it streamed."""

    def __init__(self) -> None:
        self.calls: list[tuple[PackageFile, bytes]] = []

    def __call__(self, file: PackageFile, stream: BinaryIO) -> None:
        self.calls.append((file, stream.read()))

    @property
    def paths(self) -> list[str]:
        return [f.path for f, _ in self.calls]


def test_rich_package_every_compressor(rich_rpm: tuple[str, Path], rich_tree: Path) -> None:
    compressor, rpm = rich_rpm
    sink = Collector()
    pkg = read_rpm(rpm, on_content=sink)

    assert (pkg.name, str(pkg.evr), pkg.arch) == ("demo", "1.0-1", "x86_64")
    assert pkg.nevra == "demo-1.0-1.x86_64"
    assert pkg.payload_compressor == compressor
    assert pkg.digest_algo == "sha256"
    assert pkg.license == "MIT"
    assert pkg.problems == ()
    assert [c.name for c in pkg.provides] == ["demo", "demo(x86-64)"]
    assert {f.path for f in pkg.files} == {
        "/var/lib/demo", "/usr/bin/tool.sh", "/usr/bin/pyscript", "/usr/bin/ha",
        "/usr/bin/hb", "/usr/bin/suid", "/usr/lib64/libdemo.so.1.0",
        "/usr/lib64/libdemo.so.1", "/usr/share/demo/empty", "/etc/secret",
        "/etc/demo.conf", "/usr/share/doc/demo/README",
        "/usr/share/licenses/demo/LICENSE", "/var/log/demo.log",
    }

    def get(path: str) -> PackageFile:
        entry = pkg.file(path)
        assert entry is not None, path
        return entry

    assert get("/var/lib/demo").kind is FileKind.DIR
    link = get("/usr/lib64/libdemo.so.1")
    assert (link.kind, link.link_target, link.elf) == (FileKind.SYMLINK, "libdemo.so.1.0", None)

    lib = get("/usr/lib64/libdemo.so.1.0")
    assert lib.kind is FileKind.FILE
    assert lib.elf is not None and lib.elf.error is None
    assert (lib.elf.soname, lib.elf.machine, lib.elf.elf_class) == (
        "libdemo.so.1", "EM_X86_64", 64)
    data = (rich_tree / "usr/lib64/libdemo.so.1.0").read_bytes()
    assert lib.size == len(data)
    assert lib.digest == hashlib.sha256(data).hexdigest()

    assert get("/usr/bin/tool.sh").shebang == "/bin/sh"
    assert get("/usr/bin/pyscript").shebang == "/usr/bin/env python3"
    assert get("/usr/bin/tool.sh").mode == 0o755

    ha, hb = get("/usr/bin/ha"), get("/usr/bin/hb")
    assert (ha.kind, ha.link_target) == (FileKind.FILE, None)
    assert (hb.kind, hb.link_target) == (FileKind.HARDLINK, "/usr/bin/ha")
    assert ha.size == hb.size == len("same bytes\n")
    assert ha.digest == hb.digest == hashlib.sha256(b"same bytes\n").hexdigest()

    suid = get("/usr/bin/suid")
    assert suid.mode == 0o4755 and suid.mode & stat.S_ISUID
    secret = get("/etc/secret")
    assert (secret.user, secret.group, secret.mode) == ("root", "bin", 0o640)
    assert get("/etc/demo.conf").flags == {FileFlag.CONFIG, FileFlag.NOREPLACE}
    assert get("/usr/share/doc/demo/README").flags == {FileFlag.DOC}
    assert get("/usr/share/licenses/demo/LICENSE").flags == {FileFlag.LICENSE}
    ghost = get("/var/log/demo.log")
    assert ghost.flags == {FileFlag.GHOST}
    assert get("/usr/share/demo/empty").size == 0

    # on_content: every regular file with data, once; a hardlink set once (first member);
    # never dirs, symlinks or ghosts; the bytes are the file's bytes.
    assert sorted(sink.paths) == sorted([
        "/usr/bin/tool.sh", "/usr/bin/pyscript", "/usr/bin/ha", "/usr/bin/suid",
        "/usr/lib64/libdemo.so.1.0", "/usr/share/demo/empty", "/etc/secret",
        "/etc/demo.conf", "/usr/share/doc/demo/README", "/usr/share/licenses/demo/LICENSE",
    ])
    for file, content in sink.calls:
        assert content == (rich_tree / file.path.lstrip("/")).read_bytes(), file.path
        assert file == get(file.path)  # the callback sees the final facts, ELF included


def test_wants_filters_content_and_hardlink_member(rich_rpm: tuple[str, Path]) -> None:
    _, rpm = rich_rpm
    sink = Collector()
    read_rpm(rpm, on_content=sink, wants=lambda p: p in ("/usr/bin/hb", "/etc/demo.conf"))
    assert sorted(sink.paths) == ["/etc/demo.conf", "/usr/bin/hb"]
    hb, content = next(c for c in sink.calls if c[0].path == "/usr/bin/hb")
    assert hb.kind is FileKind.HARDLINK and content == b"same bytes\n"


def test_elf_analysis_can_be_turned_off(rich_rpm: tuple[str, Path]) -> None:
    _, rpm = rich_rpm
    pkg = read_rpm(rpm, elf=False)
    lib = pkg.file("/usr/lib64/libdemo.so.1.0")
    assert lib is not None and lib.elf is None and lib.kind is FileKind.FILE


# --- unsafe payload names -------------------------------------------------------


def test_unsafe_payload_names_are_reported_and_never_used(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for d in ("aaaaaa", "bbbbbb", "cccccc", "dddddd"):
        (root / "usr/share" / d).mkdir(parents=True)
        (root / "usr/share" / d / "x").write_text(f"content of {d}\n")
    rpm = build_rpm(tmp_path, "unsafe", root, "/usr/share/aaaaaa/x\n/usr/share/bbbbbb/x\n"
                    "/usr/share/cccccc/x\n/usr/share/dddddd/x\n")
    patched = patch_payload_names(rpm, {
        b"./usr/share/aaaaaa/x": b"./../../../../etc/xx",
        b"./usr/share/bbbbbb/x": b"/etc/shadow-evil-xyz",
        b"./usr/share/cccccc/x": b"./usr/share/cccccc/q",
    })
    sink = Collector()
    pkg = read_rpm(patched, on_content=sink)
    assert sink.paths == ["/usr/share/dddddd/x"]
    assert set(pkg.problems) == {
        PayloadProblem("./../../../../etc/xx", "path escapes the root (..)"),
        PayloadProblem("/etc/shadow-evil-xyz", "absolute path in payload"),
        PayloadProblem("./usr/share/cccccc/q", "not in header file list"),
        PayloadProblem("./usr/share/aaaaaa/x", "in header file list but missing from payload"),
        PayloadProblem("./usr/share/bbbbbb/x", "in header file list but missing from payload"),
        PayloadProblem("./usr/share/cccccc/x", "in header file list but missing from payload"),
    }
    # The header's files are still listed (from the header alone).
    assert len(pkg.files) == 4


def test_payload_digest_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/share/aaaaaa").mkdir(parents=True)
    (root / "usr/share/aaaaaa/x").write_text("x\n")
    rpm = build_rpm(tmp_path, "tampered", root, "/usr/share/aaaaaa/x\n")
    patched = patch_payload_names(rpm, {b"./usr/share/aaaaaa/x": b"./usr/share/aaaaaa/y"},
                                  fix_digest=False)
    with pytest.raises(RpmError, match=r"patched\.rpm: payload digest mismatch"):
        read_rpm(patched)


# --- corrupt input --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("small")
    root = work / "root"
    (root / "usr/share/small").mkdir(parents=True)
    (root / "usr/share/small/data").write_bytes(os.urandom(100_000))
    rpms = {}
    for compressor in COMPRESSORS:
        (work / compressor).mkdir()
        rpms[compressor] = build_rpm(work / compressor, "small", root,
                                     "/usr/share/small/data\n",
                                     payload=COMPRESSORS[compressor])
    return rpms


def rewrite(dst: Path, blob: bytes) -> Path:
    """Write a damaged copy of an RPM."""
    dst.write_bytes(blob)
    return dst


def test_garbage_file_is_not_an_rpm(tmp_path: Path) -> None:
    bad = rewrite(tmp_path / "garbage.rpm", b"hello world\n" * 50)
    with pytest.raises(RpmError, match=r"garbage\.rpm: not an RPM file \(bad lead magic"):
        read_rpm(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RpmError, match=r"nope\.rpm: cannot open: No such file"):
        read_rpm(tmp_path / "nope.rpm")


def test_truncated_in_header(small_rpms: dict[str, Path], tmp_path: Path) -> None:
    blob = small_rpms["zstd"].read_bytes()
    bad = rewrite(tmp_path / "cut-header.rpm", blob[:300])
    with pytest.raises(RpmError, match=r"cut-header\.rpm: (corrupt or truncated RPM header|"
                                       r"truncated RPM: no payload)"):
        read_rpm(bad)


def test_header_with_garbage_after_lead(tmp_path: Path) -> None:
    bad = tmp_path / "badheader.rpm"
    bad.write_bytes(b"\xed\xab\xee\xdb" + b"\x03\x00" + b"\0" * 90 + b"\x8e\xad\xe8\x01"
                    + b"\xff" * 64)
    with pytest.raises(RpmError, match=r"badheader\.rpm: corrupt or truncated RPM header"):
        read_rpm(bad)


def payload_offset(rpm: Path) -> int:
    """Where the payload of ``rpm`` starts (the end of its main header)."""
    with rpm.open("rb") as fileobj:
        read_headers(fileobj, str(rpm))
        return fileobj.tell()


@pytest.mark.parametrize("compressor", sorted(COMPRESSORS))
def test_truncated_payload(small_rpms: dict[str, Path], tmp_path: Path,
                           compressor: str) -> None:
    # Issue 12: a zstd stream cut short read as "payload is empty" (zstandard ends
    # quietly inside a frame); every compressor must say truncated, wherever the cut.
    blob = small_rpms[compressor].read_bytes()
    start = payload_offset(small_rpms[compressor])
    size = len(blob) - start
    expected = ("payload truncated in " if compressor == "none" else
                f"truncated or corrupt {compressor} payload (the compressed stream ends "
                "before its end marker)")
    for cut in (7, 40, size // 2, size - 30_000, size - 4, size - 1):
        bad = rewrite(tmp_path / f"cut-{compressor}-{cut}.rpm", blob[:start + cut])
        with pytest.raises(RpmError) as caught:
            read_rpm(bad)
        assert str(caught.value).startswith(f"{bad}: {expected}"), (cut, str(caught.value))
    label = "uncompressed" if compressor == "none" else compressor
    bad = rewrite(tmp_path / f"cut-{compressor}-1.rpm", blob[:start + 1])
    # Too short for the magic (lzma has none: its decompressor says so).
    ends = "compressed stream ends" if compressor == "lzma" else r"file ends 1 byte\(s\) into"
    with pytest.raises(RpmError, match=rf"^{re.escape(str(bad))}: truncated or corrupt "
                                       rf"{label} payload \(the {ends}"):
        read_rpm(bad)


@pytest.mark.parametrize("compressor", ["zstd", "gzip", "xz"])
def test_truncated_payload_with_a_matching_digest(small_rpms: dict[str, Path],
                                                  tmp_path: Path, compressor: str) -> None:
    # A crafted RPM whose PAYLOADDIGEST matches the cut payload: only the decompressor's
    # end marker tells, also when the cut falls after the cpio trailer.
    blob = small_rpms[compressor].read_bytes()
    start = payload_offset(small_rpms[compressor])
    old = hashlib.sha256(blob[start:]).hexdigest().encode()
    assert blob[:start].count(old) >= 1
    for cut in (len(blob) - 1, len(blob) - 30_000):
        new = hashlib.sha256(blob[start:cut]).hexdigest().encode()
        bad = rewrite(tmp_path / f"forged-{compressor}.rpm",
                      blob[:start].replace(old, new) + blob[start:cut])
        with pytest.raises(RpmError, match=rf"forged-{compressor}\.rpm: truncated or corrupt "
                                           rf"{compressor} payload \(the compressed stream"):
            read_rpm(bad)


def test_payload_magic_across_a_buffer_boundary(small_rpms: dict[str, Path]) -> None:
    # A buffered file's peek returns what is left in its buffer: two bytes of xz's
    # six-byte magic read as "not xz data" before peek read what it needs.
    rpm = small_rpms["xz"]
    start = payload_offset(rpm)
    with rpm.open("rb") as fileobj:
        headers = read_headers(fileobj, str(rpm))
    payload = rpm.read_bytes()[start:]
    fileobj = io.BufferedReader(io.BytesIO(b"hh" + payload), buffer_size=4)  # type: ignore[assignment]
    assert fileobj.read(2) == b"hh" and len(fileobj.peek(6)) == 2
    digester = rpmpayload.PayloadDigest(fileobj, headers)
    compressor, stream = rpmpayload.open_payload(digester, headers, str(rpm))
    assert compressor == "xz"
    assert stream.read(6) == b"070701"
    stream.read()
    digester.verify(str(rpm))


def test_corrupt_zstd_payload(small_rpms: dict[str, Path], tmp_path: Path) -> None:
    blob = bytearray(small_rpms["zstd"].read_bytes())
    middle = len(blob) - 50_000
    blob[middle: middle + 64] = b"\xa5" * 64
    bad = rewrite(tmp_path / "flipped.rpm", bytes(blob))
    # Random data is stored in raw zstd blocks, which carry no checksum: the payload
    # digest catches it.
    with pytest.raises(RpmError, match=r"flipped\.rpm: payload digest mismatch"):
        read_rpm(bad)


def test_unknown_compressor(small_rpms: dict[str, Path], tmp_path: Path) -> None:
    blob = small_rpms["zstd"].read_bytes()
    assert blob.count(b"\0zstd\0") == 1
    bad = rewrite(tmp_path / "zzzz.rpm",
                  blob.replace(b"\0zstd\0", b"\0zzzz\0"))
    with pytest.raises(RpmError, match=r"zzzz\.rpm: unknown payload compressor 'zzzz'"):
        read_rpm(bad)


def test_compressor_tag_disagrees_with_data(small_rpms: dict[str, Path],
                                            tmp_path: Path) -> None:
    blob = small_rpms["gzip"].read_bytes()
    assert blob.count(b"\0gzip\0") == 1
    bad = rewrite(tmp_path / "liar.rpm",
                  blob.replace(b"\0gzip\0", b"\0zstd\0"))
    with pytest.raises(RpmError, match=r"liar\.rpm: payload is not zstd data"):
        read_rpm(bad)


def test_bad_cpio_magic(small_rpms: dict[str, Path], tmp_path: Path) -> None:
    blob = small_rpms["none"].read_bytes()
    assert blob.count(b"070701") >= 1
    index = blob.index(b"070701")
    bad = rewrite(tmp_path / "magic.rpm",
                  blob[:index] + b"0707zz" + blob[index + 6:])
    with pytest.raises(RpmError, match=r"magic\.rpm: payload is not none data|"
                                       r"magic\.rpm: bad cpio magic"):
        read_rpm(bad)


def test_callback_errors_are_not_disguised(small_rpms: dict[str, Path]) -> None:
    def full_disk(file: PackageFile, stream: BinaryIO) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        read_rpm(small_rpms["zstd"], on_content=full_disk)


# --- streaming ------------------------------------------------------------------


def test_zstd_payload_is_streamed_not_buffered(tmp_path: Path) -> None:
    size = 20 << 20
    root = tmp_path / "root"
    (root / "usr/share/big").mkdir(parents=True)
    # Random bytes do not compress: the payload is as big as the file.
    (root / "usr/share/big/blob").write_bytes(os.urandom(size))
    expected = hashlib.sha256((root / "usr/share/big/blob").read_bytes()).hexdigest()
    rpm = build_rpm(tmp_path, "big", root, "/usr/share/big/blob\n", payload="w3.zstdio")

    seen: dict[str, str] = {}

    def digest(file: PackageFile, stream: BinaryIO) -> None:
        h = hashlib.sha256()
        while chunk := stream.read(1 << 16):
            h.update(chunk)
        seen[file.path] = h.hexdigest()

    tracemalloc.start()
    try:
        pkg = read_rpm(rpm, on_content=digest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pkg.payload_compressor == "zstd"
    assert seen == {"/usr/share/big/blob": expected}
    assert pkg.files[0].digest == expected
    assert peak < 4 << 20, f"peak traced memory {peak} bytes for a {size}-byte file"


def test_large_elf_goes_through_a_temporary_file(rich_rpm: tuple[str, Path], rich_tree: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpmpayload, "ELF_SPOOL_MAX", 1024)
    sink = Collector()
    pkg = read_rpm(rich_rpm[1], on_content=sink, wants=lambda p: p.endswith(".so.1.0"))
    lib = pkg.file("/usr/lib64/libdemo.so.1.0")
    assert lib is not None and lib.elf is not None and lib.elf.soname == "libdemo.so.1"
    assert sink.calls == [(lib, (rich_tree / "usr/lib64/libdemo.so.1.0").read_bytes())]


def test_decompressed_payload_is_the_cpio_archive(small_rpms: dict[str, Path]) -> None:
    with decompressed_payload(small_rpms["zstd"]) as (compressor, stream):
        assert compressor == "zstd"
        assert stream.read(6) == b"070701"


# --- the cpio reader on its own, over archives made by GNU cpio ---------------------


def gnu_cpio(tmp_path: Path, names: list[str]) -> bytes:
    listing = "".join(f"{n}\n" for n in names).encode()
    return subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=listing,
                          cwd=tmp_path, capture_output=True, check=True).stdout


def test_cpio_entries_partial_reads_and_padding(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/a").write_bytes(b"x" * 5)  # odd sizes exercise the 4-byte padding
    (tmp_path / "d/bb").write_bytes(bytes(range(256)) * 3)
    (tmp_path / "d/l").symlink_to("a")
    archive = gnu_cpio(tmp_path, ["d", "d/a", "d/bb", "d/l"])
    seen = []
    for entry, stream in iter_entries(io.BytesIO(archive)):
        # Read only a little of each: the iterator must skip the rest itself.
        seen.append((entry.name, entry.size, stat.S_IFMT(entry.mode), stream.read(3)))
    assert seen == [
        ("d", 0, stat.S_IFDIR, b""),
        ("d/a", 5, stat.S_IFREG, b"xxx"),
        ("d/bb", 768, stat.S_IFREG, b"\x00\x01\x02"),
        ("d/l", 1, stat.S_IFLNK, b"a"),
    ]


@pytest.mark.parametrize(("cut", "message"), [
    (50, "payload truncated in a cpio header"),
    (113, "payload truncated in a cpio entry name"),
    (115, "payload truncated in the padding after a cpio name"),
    (200, "payload truncated in the data of 'd/bb'"),
])
def test_cpio_truncated(tmp_path: Path, cut: int, message: str) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/bb").write_bytes(b"y" * 400)
    archive = gnu_cpio(tmp_path, ["d/bb"])
    with pytest.raises(CpioError, match=re.escape(message)):
        for _entry, stream in iter_entries(io.BytesIO(archive[:cut])):
            stream.read()


def test_cpio_bad_magic_and_empty() -> None:
    with pytest.raises(CpioError, match="bad cpio magic b'070707'"):
        list(iter_entries(io.BytesIO(b"070707" + b"0" * 200)))
    with pytest.raises(CpioError, match="payload is empty"):
        list(iter_entries(io.BytesIO(b"")))
    with pytest.raises(CpioError, match="stripped cpio payload"):
        list(iter_entries(io.BytesIO(b"07070X" + b"0" * 200)))


@pytest.mark.parametrize(("head", "shebang"), [
    (b"#!/bin/sh\necho\n", "/bin/sh"),
    (b"#! /usr/bin/python3 -E\n", "/usr/bin/python3"),
    (b"#!/usr/bin/env python3\n", "/usr/bin/env python3"),
    (b"#!/usr/bin/env -S python3 -u\n", "/usr/bin/env python3"),
    (b"#!/usr/bin/env LC_ALL=C awk -f\n", "/usr/bin/env awk"),
    (b"#!/usr/bin/env\n", "/usr/bin/env"),
    (b"#!\n", None),
    (b"\x7fELF", None),
])
def test_shebang_keeps_the_program_env_runs(head: bytes, shebang: str | None) -> None:
    from sdfgen.rpm.payload import _shebang

    assert _shebang(head) == shebang
