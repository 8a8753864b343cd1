"""Tests for sdfgen.repo.metadata and .repomd over repositories made by the real createrepo_c."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from sdfgen.errors import RepoError
from sdfgen.facts import Capability, Evr
from sdfgen.repo.metadata import (
    iter_filelists,
    iter_primary,
    open_decompressed,
    to_package_meta,
)
from sdfgen.repo.repomd import parse_repomd

COMPRESSIONS = ["gz", "xz", "bz2", "zst", "none"]


@pytest.fixture(scope="module", params=COMPRESSIONS)
def compressed_repo(request: pytest.FixtureRequest, repo_rpms: dict[str, Path],
                    repo_tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp(f"repo-{request.param}")
    for label in ("libfoo-2.0", "libfoo-9.0-src", "foo-data"):
        shutil.copy2(repo_rpms[label], repo)
    return repo_tools.createrepo(repo, request.param)  # type: ignore[no-any-return]


def _metadata(repo: Path, data_type: str) -> Path:
    repomd = parse_repomd((repo / "repodata" / "repomd.xml").read_bytes(), "repomd.xml")
    record = repomd.record(data_type)
    assert record is not None
    return repo / record.location


def test_repomd_records_match_the_files(compressed_repo: Path) -> None:
    repomd = parse_repomd((compressed_repo / "repodata/repomd.xml").read_bytes(), "x")
    assert {"primary", "filelists", "other"} <= {r.data_type for r in repomd.records}
    assert repomd.revision.isdigit()
    for record in repomd.records:
        data = (compressed_repo / record.location).read_bytes()
        assert hashlib.new(record.checksum_type, data).hexdigest() == record.checksum
        assert record.size == len(data)
        with open_decompressed(compressed_repo / record.location) as stream:
            opened = stream.read()
        assert hashlib.new(record.open_checksum_type, opened).hexdigest() == record.open_checksum
    assert repomd.record("nonexistent") is None


def test_primary_is_parsed_for_every_compression(compressed_repo: Path,
                                                 repo_rpms: dict[str, Path]) -> None:
    records = {(r.name, r.arch): r for r in iter_primary(_metadata(compressed_repo, "primary"))}
    assert set(records) == {("libfoo", "x86_64"), ("libfoo", "src"), ("foo-data", "noarch")}
    rpm = repo_rpms["libfoo-2.0"]
    meta = to_package_meta(records["libfoo", "x86_64"], "http://127.0.0.1/r/", "OS")
    assert meta.nevra == "libfoo-2.0-1.x86_64"
    assert meta.evr == Evr(0, "2.0", "1")
    assert meta.checksum_type == "sha256"
    assert meta.checksum == hashlib.sha256(rpm.read_bytes()).hexdigest()
    assert meta.size == rpm.stat().st_size
    assert meta.location == rpm.name
    assert (meta.base_url, meta.repo_id) == ("http://127.0.0.1/r/", "OS")
    assert meta.sourcerpm == "libfoo-2.0-1.src.rpm"
    assert meta.license == "MIT" and meta.summary == "libfoo test package"
    assert meta.buildtime > 1_600_000_000
    assert Capability("libfoo.so.1()(64bit)") in meta.provides
    assert Capability("libfoo", "EQ", Evr(0, "2.0", "1")) in meta.provides
    assert Capability("foo-data", "GE", Evr(0, "1.0", "")) in meta.requires
    assert Capability("/bin/sh") in meta.requires
    # primary carries only /etc and *bin/ files; the library is in filelists only.
    assert meta.files == ("/etc/foo.conf", "/usr/bin/foo")


def test_filelists_has_every_file(compressed_repo: Path) -> None:
    primary = {r.checksum: r.name for r in iter_primary(_metadata(compressed_repo, "primary"))}
    files = dict(iter_filelists(_metadata(compressed_repo, "filelists")))
    assert set(files) == set(primary)
    libfoo = next(paths for pkgid, paths in files.items()
                  if primary[pkgid] == "libfoo" and "/usr/bin/foo" in paths)
    assert {"/usr/lib64/libfoo.so.1", "/usr/bin/foo", "/etc/foo.conf",
            "/usr/share/libfoo/README"} <= set(libfoo)


def test_compression_is_detected_by_magic_not_name(compressed_repo: Path, tmp_path: Path
                                                   ) -> None:
    misnamed = tmp_path / "primary.xml"  # whatever the content is, the name says plain XML
    shutil.copy(_metadata(compressed_repo, "primary"), misnamed)
    assert len(list(iter_primary(misnamed))) == 3


@pytest.fixture
def plain_primary(repo_rpms: dict[str, Path], repo_tools: Any, tmp_path: Path) -> bytes:
    shutil.copy2(repo_rpms["libfoo-2.0"], tmp_path)
    repo_tools.createrepo(tmp_path, "gz")
    return gzip.decompress(_metadata(tmp_path, "primary").read_bytes())


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda raw: raw[: raw.index(b"<rpm:provides>") + 14],
         "corrupt or truncated metadata: no element found at line"),
        (lambda raw: raw[: raw.index(b"<rpm:provides>") + 10],
         "corrupt or truncated metadata: unclosed token at line"),
        (lambda raw: gzip.compress(raw)[:-40], "corrupt or truncated metadata: Compressed file "
         "ended before the end-of-stream marker was reached"),
        (lambda raw: b"\x1f\x8bgarbage" * 10, "corrupt or truncated metadata: "),
        (lambda raw: b"<html><body>Not Found</body></html>",
         "expected a <metadata> document, found <html>"),
        (lambda raw: b"", "corrupt or truncated metadata: "),
        (lambda raw: raw.replace(b"<name>libfoo</name>", b"<name></name>"),
         "malformed package entry ?: lacks name, arch, version or checksum"),
        (lambda raw: raw.replace(b'epoch="0" ver="2.0"', b'epoch="x" ver="2.0"'),
         "malformed package entry: invalid literal for int()"),
    ],
)
def test_corrupt_primary_names_the_file(plain_primary: bytes, tmp_path: Path, mangle: object,
                                        problem: str) -> None:
    bad = tmp_path / "bad-primary.xml.gz"
    bad.write_bytes(mangle(plain_primary))  # type: ignore[operator]
    with pytest.raises(RepoError) as excinfo:
        list(iter_primary(bad, label="http://127.0.0.1/r/repodata/bad-primary.xml.gz"))
    message = str(excinfo.value)
    assert message.startswith(f"http://127.0.0.1/r/repodata/bad-primary.xml.gz: {problem}")
    assert "\n" not in message


def test_truncated_filelists_names_the_file(repo_rpms: dict[str, Path], repo_tools: Any,
                                           tmp_path: Path) -> None:
    shutil.copy2(repo_rpms["libfoo-2.0"], tmp_path)
    repo_tools.createrepo(tmp_path, "xz")
    path = _metadata(tmp_path, "filelists")
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(RepoError) as excinfo:
        list(iter_filelists(path))
    assert str(excinfo.value).startswith(f"{path}: corrupt or truncated metadata: ")


def test_xml_base_overrides_the_base_url(plain_primary: bytes, tmp_path: Path) -> None:
    changed = plain_primary.replace(
        b'<location href="', b'<location xml:base="http://127.0.0.1/other/" href="')
    path = tmp_path / "p.xml"
    path.write_bytes(changed)
    meta = to_package_meta(next(iter_primary(path)), "http://127.0.0.1/r/", "OS")
    assert meta.base_url == "http://127.0.0.1/other/"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"<repomd", "not a valid repomd.xml: unclosed token: line 1, column 0"),
        (b"<html/>", "not a repomd.xml (root element 'html')"),
        (b'<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary"/></repomd>',
         "<data type='primary'> lacks a location or checksum"),
    ],
)
def test_bad_repomd_names_the_url(data: bytes, problem: str) -> None:
    with pytest.raises(RepoError) as excinfo:
        parse_repomd(data, "http://127.0.0.1/r/repodata/repomd.xml")
    assert str(excinfo.value) == f"http://127.0.0.1/r/repodata/repomd.xml: {problem}"


def test_zst_rewrite_helper_makes_a_valid_repo(repo_rpms: dict[str, Path], repo_tools: Any,
                                               tmp_path: Path) -> None:
    shutil.copy2(repo_rpms["foo-data"], tmp_path)
    repo_tools.createrepo(tmp_path, "gz")
    new = repo_tools.rewrite_metadata(tmp_path, "primary", lambda raw: raw, "zst")
    assert new.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    assert [r.name for r in iter_primary(_metadata(tmp_path, "primary"))] == ["foo-data"]
