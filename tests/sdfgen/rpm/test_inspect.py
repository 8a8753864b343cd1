"""``sdfgen inspect`` end to end: the real sample repository over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from sdfgen.cli.app import main

ARCHES = ("x86_64", "aarch64")
TRIPLET = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


def test_openssl_libs_on_both_arches(capsys: pytest.CaptureFixture[str], sample_mirror: str,
                                     cache: str) -> None:
    doc = _inspect_json(capsys, "openssl-libs", "--mirror", sample_mirror, "--cache-dir", cache,
                        "--arch", "x86_64", "--arch", "aarch64")
    assert doc["schema"] == "sdfgen-inspect" and doc["schema_version"] == 1
    assert sorted(doc["arches"]) == sorted(ARCHES)
    for arch in ARCHES:
        report = doc["arches"][arch]
        assert report["nevra"].startswith("openssl-libs-") and report["nevra"].endswith(arch)
        assert report["payload_compressor"] == "zstd"
        files = {f["path"]: f for f in report["files"]}
        libssl = files[f"/usr/lib/{TRIPLET[arch]}/libssl.so.3"]
        libcrypto = files[f"/usr/lib/{TRIPLET[arch]}/libcrypto.so.3"]
        machine = "EM_X86_64" if arch == "x86_64" else "EM_AARCH64"
        assert libssl["elf"]["soname"] == "libssl.so.3"
        assert libssl["elf"]["machine"] == machine
        assert libcrypto["elf"]["soname"] == "libcrypto.so.3"
        assert "libcrypto.so.3" in libssl["elf"]["needed"]
        licence = [f for f in report["files"] if "license" in f["flags"]]
        assert licence, "the copyright file must be flagged %license"
        needs = {(n["file"], n["soname"]): n for n in report["needed"]}
        libc = needs[(libssl["path"], "libc.so.6")]
        assert libc["package"] == "glibc"
        assert libc["path"] == f"/lib/{TRIPLET[arch]}/libc.so.6"
        own = needs[(libssl["path"], "libcrypto.so.3")]
        assert own["package"] == "openssl-libs"


def test_human_table_groups_by_directory(capsys: pytest.CaptureFixture[str],
                                         sample_mirror: str, cache: str) -> None:
    assert main(["inspect", "openssl-libs", "--mirror", sample_mirror, "--cache-dir", cache,
                 "--arch", "aarch64"]) == 0
    out = capsys.readouterr().out
    assert "/usr/lib/aarch64-linux-gnu/" in out
    assert "SONAME libssl.so.3" in out
    assert "libc.so.6" in out and "glibc" in out
    assert "unresolved" not in out


def test_newest_evr_comes_from_update_repo(capsys: pytest.CaptureFixture[str],
                                           sample_mirror: str, cache: str) -> None:
    doc = _inspect_json(capsys, "zlib", "--mirror", sample_mirror, "--cache-dir", cache,
                        "--arch", "x86_64")
    assert doc["arches"]["x86_64"]["repo"] == "update"


def test_local_directory_repo(capsys: pytest.CaptureFixture[str], sample_repo_root: Path,
                              cache: str) -> None:
    repo = sample_repo_root / "openEuler-24.03-LTS" / "OS" / "$basearch"
    doc = _inspect_json(capsys, "zlib", "--repo", str(repo), "--cache-dir", cache,
                        "--arch", "aarch64")
    report = doc["arches"]["aarch64"]
    assert report["arch"] == "aarch64"
    assert any(f["elf"] and f["elf"]["soname"] == "libz.so.1" for f in report["files"])


def test_noarch_package_serves_every_arch(capsys: pytest.CaptureFixture[str],
                                          sample_mirror: str, cache: str) -> None:
    doc = _inspect_json(capsys, "tzdata", "--mirror", sample_mirror, "--cache-dir", cache)
    assert {report["arch"] for report in doc["arches"].values()} == {"noarch"}


def test_unknown_package_suggests(capsys: pytest.CaptureFixture[str], sample_mirror: str,
                                  cache: str) -> None:
    assert main(["inspect", "openssl-lib", "--mirror", sample_mirror, "--cache-dir", cache,
                 "--arch", "x86_64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("error: no package 'openssl-lib'")
    assert "did you mean: openssl-libs" in err


def test_unreachable_mirror_names_url(capsys: pytest.CaptureFixture[str], cache: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["inspect", "zlib", "--mirror", f"http://127.0.0.1:{port}/", "--cache-dir",
                 cache, "--arch", "x86_64", "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:{port}/openEuler-24.03-LTS/OS/x86_64/repodata/repomd.xml" in err
    assert "cannot connect" in err


def test_unsupported_arch(capsys: pytest.CaptureFixture[str], sample_mirror: str) -> None:
    assert main(["inspect", "zlib", "--mirror", sample_mirror, "--arch", "riscv64"]) == 2
    assert "unsupported arch 'riscv64'" in capsys.readouterr().err


def _copy_repo(sample_repo_root: Path, dest: Path, arch: str = "x86_64") -> Path:
    import shutil

    source = sample_repo_root / "openEuler-24.03-LTS" / "OS" / arch
    shutil.copytree(source, dest, symlinks=False)
    return dest


def test_checksum_mismatched_rpm_is_named_and_not_cached(
        capsys: pytest.CaptureFixture[str], sample_repo_root: Path, tmp_path: Path) -> None:
    repo = _copy_repo(sample_repo_root, tmp_path / "repo")
    rpm = next((repo / "Packages").glob("zlib-*.rpm"))
    data = bytearray(rpm.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    rpm.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    assert main(["inspect", "zlib", "--repo", str(repo), "--cache-dir", str(cache),
                 "--arch", "x86_64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert rpm.name in err and "checksum mismatch" in err
    assert not [p for p in cache.rglob("*.rpm")], "a mismatched RPM must not be cached"


def test_payload_escape_is_reported_not_followed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An RPM whose payload names '../' is served in a real repo; inspect reports it."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
    from builders import build_rpm, patch_payload_names

    root = tmp_path / "root"
    for name in ("aaaaaa", "bbbbbb"):
        (root / "usr/share" / name).mkdir(parents=True)
        (root / "usr/share" / name / "x").write_text(f"{name}\n")
    rpm = build_rpm(tmp_path, "evil", root, "/usr/share/aaaaaa/x\n/usr/share/bbbbbb/x\n")
    patched = patch_payload_names(rpm, {b"./usr/share/aaaaaa/x": b"./../../../../etc/xx"})
    repo = tmp_path / "repo"
    (repo / "Packages").mkdir(parents=True)
    patched.rename(repo / "Packages" / "evil-1.0-1.x86_64.rpm")
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    assert main(["inspect", "evil", "--repo", str(repo), "--cache-dir",
                 str(tmp_path / "cache"), "--arch", "x86_64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["arches"]["x86_64"]
    problems = {p["problem"] for p in report["problems"]}
    assert "path escapes the root (..)" in problems
    assert all(".." not in f["path"].split("/") for f in report["files"])
