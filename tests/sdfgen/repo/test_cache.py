"""Tests for sdfgen.repo.cache: which repository names may become cache paths."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from sdfgen.errors import RepoError
from sdfgen.repo.cache import CacheDir, base_name, checked_checksum

URL = "http://127.0.0.1:1/repo/"


@pytest.mark.parametrize(("type_value", "name"), [
    ("sha256", "sha256"), ("SHA256", "sha256"), ("sha", "sha1"), ("sha1", "sha1"),
    ("sha-1", "sha1"), ("sha512", "sha512"), ("sha384", "sha384"), ("sha224", "sha224"),
    ("md5", "md5"),
])
def test_every_supported_type_takes_hex_of_its_length(type_value: str, name: str) -> None:
    digest = hashlib.new(name, b"x").hexdigest()
    assert checked_checksum(type_value, digest, URL) == (name, digest)
    pattern = (rf"^{URL}: bad {name} checksum '[0-9a-f]+'(\.\.\.)?: expected {len(digest)} "
               "lower-case hex digits$")
    with pytest.raises(RepoError, match=pattern):
        checked_checksum(type_value, digest + "0", URL)


@pytest.mark.parametrize("value", ["g" * 64, " " + "0" * 63, "0" * 63 + "\n", "\u0660" * 64])
def test_nothing_but_lower_case_hex_is_a_checksum(value: str) -> None:
    with pytest.raises(RepoError) as excinfo:
        checked_checksum("sha256", value, URL)
    assert str(excinfo.value) == (f"{URL}: bad sha256 checksum {value!r}: expected 64 "
                                  "lower-case hex digits")


def test_long_bad_values_are_cut_in_the_message() -> None:
    with pytest.raises(RepoError) as excinfo:
        checked_checksum("sha256", "../" * 100, URL)
    assert str(excinfo.value) == (f"{URL}: bad sha256 checksum {('../' * 100)[:80]!r}...: "
                                  "expected 64 lower-case hex digits")


def test_base_name_is_the_last_component_if_plain() -> None:
    assert base_name("Packages/l/libstdc++-13.rpm", URL) == "libstdc++-13.rpm"
    assert base_name("a b.rpm", URL) == "a b.rpm"
    with pytest.raises(RepoError, match=r": bad file name in location 'x/\\x00.rpm': it "
                                        r"contains a NUL or control character$"):
        base_name("x/\x00.rpm", URL)


def test_metadata_name_too_long_once_prefixed_is_refused(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path)
    checksum = "0" * 64
    url = f"{URL}repodata/{'p' * 200}.xml.gz"
    with pytest.raises(RepoError, match=r": bad file name '0{64}-p+'\.\.\. for the cache: it is "
                                        r"longer than 255 bytes$"):
        cache.metadata_path("sha256", checksum, url)
    assert cache.metadata_path("sha256", checksum, f"{URL}repodata/{checksum}-primary.xml.gz") \
        == tmp_path / "metadata" / "sha256" / f"{checksum}-primary.xml.gz"


def test_relative_cache_dir_is_made_absolute(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert CacheDir("rel").root == tmp_path / "rel"


def test_sweep_removes_only_old_unlocked_partial_files(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path)
    with cache.partial_file() as live:  # being written by this run: locked
        old = time.time() - 7200
        os.utime(live.path, (old, old))
        (tmp_path / "partial" / ".partial-dead").write_bytes(b"x")
        os.utime(tmp_path / "partial" / ".partial-dead", (old, old))
        (tmp_path / "partial" / "not-ours").write_bytes(b"x")
        os.utime(tmp_path / "partial" / "not-ours", (old, old))
        assert cache.sweep_partials() == 1
        assert live.path.exists()
    assert sorted(p.name for p in (tmp_path / "partial").iterdir()) == ["not-ours"]


def test_sweep_removes_partial_files_of_the_old_layout_once(tmp_path: Path) -> None:
    """Earlier builds wrote downloads to .partial-* beside the cached file; one killed
    by a hostile server could be tens of GiB. Swept once, then a marker stops the walk."""
    cache = CacheDir(tmp_path)
    old = time.time() - 7200
    beside = tmp_path / "packages" / "sha256" / "04" / ("04" + "0" * 62)
    beside.mkdir(parents=True)
    (beside / ".partial-o5hsq88e").write_bytes(b"x" * 4096)
    (beside / "libfoo-1.0-1.x86_64.rpm").write_bytes(b"rpm")
    recent = tmp_path / "metadata" / ".partial-recent"
    recent.parent.mkdir()
    recent.write_bytes(b"x")
    os.utime(beside / ".partial-o5hsq88e", (old, old))
    assert cache.sweep_partials() == 1
    assert sorted(p.name for p in beside.iterdir()) == ["libfoo-1.0-1.x86_64.rpm"]
    # One is recent (a run of an earlier build may still write it): no marker yet.
    assert recent.exists() and not (tmp_path / ".legacy-partials-swept").exists()
    os.utime(recent, (old, old))
    assert cache.sweep_partials() == 1
    assert (tmp_path / ".legacy-partials-swept").exists()
    (beside / ".partial-later").write_bytes(b"x")
    os.utime(beside / ".partial-later", (old, old))
    assert cache.sweep_partials() == 0  # marked: the tree is not walked again
