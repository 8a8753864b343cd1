"""The persistent facts cache and lazy provider reads, on the real sample repository."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sdfgen.facts import Evr, FileKind, PackageFile, RpmPackage
from sdfgen.repo.cache import CacheDir
from sdfgen.rpm import factcache
from sdfgen.rpm.factcache import FactCache, decode, encode
from sdfgen.rpm.header import HeaderFile
from sdfgen.rpm.needed import resolve_package
from sdfgen.rpm.payload import elf_paths_named
from sdfgen.rpm.reader import read_rpm
from sdfgen.rpm.session import RepoOptions, Session, open_session

ROUND_TRIP = ("glibc", "openssl-libs", "python3", "tzdata", "ca-certificates")


def _session(mirror: str, cache: Path) -> Session:
    return Session(RepoOptions(mirror=mirror, cache_dir=cache, arches=("x86_64",)))


def _entries(cache: Path, pattern: str = "*.json") -> list[Path]:
    return sorted((cache / "facts").rglob(pattern))


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_facts_survive_the_json_round_trip(sample_mirror: str, tmp_path: Path,
                                           name: str) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        meta = session.repository("x86_64").latest(name)
        read = read_rpm(session.repository("x86_64").download(meta))
    finally:
        session.close()
    assert any(f.elf is not None for f in read.files) or name in ("tzdata", "ca-certificates")
    text = json.dumps(encode(read), separators=(",", ":"))
    assert decode(json.loads(text)) == read


def test_names_that_are_not_utf8_survive_the_cache(tmp_path: Path) -> None:
    name = b"/usr/share/odd/\xff.txt".decode("utf-8", "surrogateescape")
    package = RpmPackage("odd", Evr(0, "1", "1"), "noarch",
                         files=(PackageFile(name, FileKind.FILE, 0o644),))
    cache = FactCache(CacheDir(tmp_path))
    cache.store("sha256", "a" * 64, package)
    assert cache.load("sha256", "a" * 64) == package


def test_a_warm_session_reads_facts_without_the_rpm(sample_mirror: str,
                                                   tmp_path: Path) -> None:
    with open_session(RepoOptions(mirror=sample_mirror, cache_dir=tmp_path,
                                  arches=("x86_64",))) as session:
        meta = session.repository("x86_64").latest("openssl-libs")
        cold = session.read("x86_64", meta)
    assert len(_entries(tmp_path)) == 1
    # Without the RPM (and with the server unable to send it) the facts still come.
    packages = tmp_path / "packages"
    for path in sorted(packages.rglob("*.rpm")):
        path.unlink()
    with open_session(RepoOptions(mirror=sample_mirror, cache_dir=tmp_path,
                                  arches=("x86_64",))) as session:
        warm = session.read("x86_64", session.repository("x86_64").latest("openssl-libs"))
    assert warm == cold
    assert not list(packages.rglob("*.rpm"))


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"format": "sdfgen-facts"}',
                                    b"[1, 2, 3]"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(sample_mirror: str, tmp_path: Path,
                                                    damage: bytes) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        meta = session.repository("x86_64").latest("zlib")
        first = session.read("x86_64", meta)
    finally:
        session.close()
    (entry,) = _entries(tmp_path)
    entry.write_bytes(damage)
    session = _session(sample_mirror, tmp_path)
    try:
        assert session.read("x86_64", meta) == first
    finally:
        session.close()
    assert json.loads(entry.read_bytes())["package"]["name"] == "zlib"


def test_an_entry_with_a_wrong_type_is_a_miss(sample_mirror: str, tmp_path: Path) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        meta = session.repository("x86_64").latest("zlib")
        first = session.read("x86_64", meta)
        (entry,) = _entries(tmp_path)
        document = json.loads(entry.read_bytes())
        document["package"]["files"][0][0] = "../../etc/passwd"
        entry.write_text(json.dumps(document))
        cache = FactCache(CacheDir(tmp_path))
        assert cache.load(meta.checksum_type, meta.checksum) is None
        document["package"]["files"][0][2] = "0755"
        document["package"]["files"][0][0] = first.files[0].path
        entry.write_text(json.dumps(document))
        assert cache.load(meta.checksum_type, meta.checksum) is None
    finally:
        session.close()


def test_a_change_of_the_analysis_uses_a_new_directory(sample_mirror: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        meta = session.repository("x86_64").latest("zlib")
        session.read("x86_64", meta)
    finally:
        session.close()
    before = factcache.analysis_key()
    monkeypatch.setattr(factcache, "ANALYSIS_VERSION", factcache.ANALYSIS_VERSION + 1)
    factcache.analysis_key.cache_clear()
    try:
        assert factcache.analysis_key() != before
        assert FactCache(CacheDir(tmp_path)).load(meta.checksum_type, meta.checksum) is None
    finally:
        monkeypatch.undo()
        factcache.analysis_key.cache_clear()
    assert factcache.analysis_key() == before


def test_entries_are_not_written_outside_the_cache(tmp_path: Path) -> None:
    cache = FactCache(CacheDir(tmp_path))
    with pytest.raises(Exception, match="checksum"):
        cache.entry_path("sha256", "../" * 10 + "etc")
    assert not (tmp_path / "facts").exists()


def test_a_provider_is_read_lazily_and_resolves_as_a_full_read(sample_mirror: str,
                                                               tmp_path: Path) -> None:
    session = _session(sample_mirror, tmp_path / "lazy")
    try:
        repository = session.repository("x86_64")
        openssl = session.read("x86_64", repository.latest("openssl-libs"))
        lazy_rows = resolve_package(session, "x86_64", openssl)
        glibc = session.read("x86_64", repository.latest("glibc"),
                             elf_names={"libc.so.6"})
    finally:
        session.close()
    analysed = {f.path for f in glibc.files if f.elf is not None}
    assert analysed, "libc.so.6 was not analysed"
    assert all(p.rsplit("/", 1)[1] in ("libc.so.6", "ld-linux-x86-64.so.2") for p in analysed)
    assert _entries(tmp_path / "lazy", "*.lazy.json")
    full = _session(sample_mirror, tmp_path / "full")
    try:
        full.read("x86_64", full.repository("x86_64").latest("glibc"))  # full facts first
        full_rows = resolve_package(full, "x86_64", openssl)
    finally:
        full.close()
    assert lazy_rows == full_rows
    assert {row.package for row in lazy_rows} >= {"glibc"}
    assert all(row.path is not None for row in lazy_rows)


def test_lazy_reads_grow_one_entry_and_a_full_read_serves_them(sample_mirror: str,
                                                              tmp_path: Path) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        meta = session.repository("x86_64").latest("glibc")
        session.read("x86_64", meta, elf_names={"libc.so.6"})
        session.read("x86_64", meta, elf_names={"libm.so.6"})
    finally:
        session.close()
    (entry,) = _entries(tmp_path, "*.lazy.json")
    assert json.loads(entry.read_bytes())["elf_names"] == ["libc.so.6", "libm.so.6"]
    session = _session(sample_mirror, tmp_path)
    try:
        full = session.read("x86_64", meta)
        assert session.read("x86_64", meta, elf_names={"libpthread.so.0"}) is full
    finally:
        session.close()
    assert sum(1 for f in full.files if f.elf is not None) > 10


def _header(index: int, path: str, link: str = "") -> HeaderFile:
    mode = (stat.S_IFLNK | 0o777) if link else (stat.S_IFREG | 0o755)
    return HeaderFile(index, path, mode, 0, "root", "root", "", frozenset(), link, 0, (0, index))


def test_elf_paths_named_follows_symlinks_by_name() -> None:
    files = [
        _header(0, "/usr/lib64/libz.so.1", "libz.so.1.2.13"),
        _header(1, "/usr/lib64/libz.so.1.2.13"),
        _header(2, "/lib64/ld-linux-x86-64.so.2", "../usr/lib/x86_64-linux-gnu/ld.so"),
        _header(3, "/usr/lib/x86_64-linux-gnu/ld.so"),
        _header(4, "/usr/lib64/libother.so.3"),
        _header(5, "/usr/lib64/loop.so", "loop.so"),
    ]
    by_path = {f.path: f for f in files}
    assert elf_paths_named(by_path, frozenset({"libz.so.1", "ld-linux-x86-64.so.2",
                                               "loop.so"})) == {
        "/usr/lib64/libz.so.1", "/usr/lib64/libz.so.1.2.13", "/lib64/ld-linux-x86-64.so.2",
        "/usr/lib/x86_64-linux-gnu/ld.so", "/usr/lib64/loop.so"}


def test_lazy_and_full_reads_agree_on_the_objects_both_analyse(sample_mirror: str,
                                                               tmp_path: Path) -> None:
    session = _session(sample_mirror, tmp_path)
    try:
        path = session.repository("x86_64").download(
            session.repository("x86_64").latest("glibc"))
    finally:
        session.close()
    full = read_rpm(path)
    lazy = read_rpm(path, elf_names={"libc.so.6", "libm.so.6"})
    assert [f.path for f in full.files] == [f.path for f in lazy.files]
    both = [(a, b) for a, b in zip(full.files, lazy.files, strict=True) if b.elf is not None]
    assert len(both) >= 2
    assert all(a == b for a, b in both)
    assert isinstance(lazy, RpmPackage)


def test_facts_of_other_analyses_are_pruned_when_stale(sample_mirror: str,
                                                      tmp_path: Path) -> None:
    import os
    import time

    stale = tmp_path / "facts" / "0123456789abcdef" / "sha256" / "aa"
    stale.mkdir(parents=True)
    (stale / ("a" * 64 + ".json")).write_text("{}")
    recent = tmp_path / "facts" / "fedcba9876543210"
    recent.mkdir()
    old = time.time() - factcache.STALE_ANALYSIS_SECONDS - 60
    os.utime(tmp_path / "facts" / "0123456789abcdef", (old, old))
    session = _session(sample_mirror, tmp_path)
    try:
        session.read("x86_64", session.repository("x86_64").latest("zlib"))
    finally:
        session.close()
    kept = sorted(p.name for p in (tmp_path / "facts").iterdir())
    assert kept == sorted([factcache.analysis_key(), "fedcba9876543210"])


@pytest.mark.parametrize("with_sdfs", [False, True])
def test_propose_reads_a_provider_lazily_only_when_its_sdf_answers(
        sample_mirror: str, tmp_path: Path, with_sdfs: bool) -> None:
    """Without glibc's SDF, propose plans glibc itself and so reads it in full: a lazy read
    first would decompress it twice. With the SDF, only libc.so.6's facts are needed."""
    from sdfgen.slicing.proposer import Proposer, propose_names

    samples = Path(__file__).resolve().parents[3] / "samples" / "sdf"
    session = _session(sample_mirror, tmp_path)
    try:
        proposer = Proposer(session, sdf_dir=samples if with_sdfs else None, use_model=False)
        propose_names(proposer, ["zlib"])
        glibc = session.repository("x86_64").latest("glibc")
    finally:
        session.close()
    lazy = [p.name for p in _entries(tmp_path, "*.lazy.json")]
    full = [p.name for p in _entries(tmp_path)]
    assert (f"{glibc.checksum}.lazy.json" in lazy) == with_sdfs
    assert (f"{glibc.checksum}.json" in full) != with_sdfs
