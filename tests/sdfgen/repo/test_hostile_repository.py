"""Hostile repositories: tampered metadata and servers that send too much or too slowly.

Each case uses a real createrepo_c repository of real rpmbuild RPMs (the ``repo_*``
fixtures), tampered with afterwards and served by a real HTTP server on 127.0.0.1 whose
chosen paths misbehave. Each asserts the one-line message and that nothing appeared
outside the cache directory.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sdfgen.cli.app import main
from sdfgen.errors import RepoError
from sdfgen.repo.cache import LEGACY_SWEPT_MARKER, CacheDir
from sdfgen.repo.fetch import FetchOptions
from sdfgen.repo.index import Repository
from sdfgen.repo.sources import RepoSource

RELEASE = "24.03-LTS"
RPM = "libfoo-2.0-1.x86_64.rpm"
# Short timeouts and no retries: each hostile case fails in a second or two.
QUICK = FetchOptions(connect_timeout=0.5, read_timeout=1.0, retries=0, backoff=0.01)

Behaviour = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    hostile: dict[str, Behaviour]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the document root, except the paths the test made hostile."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        behaviour = self.server.hostile.get(self.path)
        if behaviour is None:
            super().do_GET()
            return
        try:
            behaviour(self)
        except OSError:
            pass  # the client gave up, as it should


@dataclass
class Site:
    """A served copy of the ``update`` repository (libfoo-2.0 only) and its tools."""

    repo: Path  # the repository directory on disk
    url: str  # its base URL, ending in /
    hostile: dict[str, Behaviour] = field(default_factory=dict)

    def path_of(self, name: str) -> str:
        """The request path of a file of the repository."""
        return "/repo/" + name

    def source(self) -> RepoSource:
        return RepoSource("update", self.url)


@pytest.fixture
def site(repo_mirror_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hostile-www")
    shutil.copytree(repo_mirror_tree / f"openEuler-{RELEASE}" / "update" / "x86_64",
                    root / "repo")
    server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    server.hostile = {}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield Site(root / "repo", f"http://127.0.0.1:{server.server_address[1]}/repo/",
                   server.hostile)
    finally:
        server.shutdown()
        server.server_close()


def _outside_cache(tmp_path: Path) -> list[str]:
    """Everything below ``tmp_path`` that is not the cache (which is tmp_path/cache)."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if not p.is_relative_to(tmp_path / "cache"))


def _cached_files(tmp_path: Path) -> list[str]:
    """The files (not directories) in the cache, but for the sweep's marker."""
    cache = tmp_path / "cache"
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if not p.is_dir() and p.name != LEGACY_SWEPT_MARKER)


def _open(site: Site, tmp_path: Path, options: FetchOptions = QUICK) -> Repository:
    return Repository([site.source()], "x86_64", cache_dir=tmp_path / "cache", options=options)


def _primary_checksum(repo: Path) -> str:
    return next((repo / "repodata").glob("*-primary.xml*")).name.split("-")[0]


def _edit_repomd(repo: Path, old: str, new: str) -> None:
    repomd = repo / "repodata" / "repomd.xml"
    text = repomd.read_text()
    assert old in text
    repomd.write_text(text.replace(old, new, 1))


# --- 1. repository-provided names never leave the cache --------------------------------

@pytest.mark.parametrize(("checksum", "problem"), [
    ("../../../evil/x", "bad sha256 checksum '../../../evil/x': expected 64 lower-case "
                        "hex digits"),
    ("A" * 64, f"bad sha256 checksum '{'A' * 64}': expected 64 lower-case hex digits"),
    ("0" * 63, f"bad sha256 checksum '{'0' * 63}': expected 64 lower-case hex digits"),
    ("0" * 32 + "/" + "0" * 31, f"bad sha256 checksum '{'0' * 32}/{'0' * 31}': expected 64 "
                                "lower-case hex digits"),
], ids=["dotdot", "upper-case", "short", "slash"])
def test_repomd_checksum_that_is_not_hex_is_refused(site: Site, tmp_path: Path,
                                                    checksum: str, problem: str) -> None:
    _edit_repomd(site.repo, f">{_primary_checksum(site.repo)}<", f">{checksum}<")
    with pytest.raises(RepoError) as excinfo:
        _open(site, tmp_path)
    assert str(excinfo.value) == f"{site.url}repodata/repomd.xml <data type='primary'>: {problem}"
    assert _outside_cache(tmp_path) == [] and _cached_files(tmp_path) == []


def test_repomd_checksum_type_outside_the_list_is_refused(site: Site, tmp_path: Path) -> None:
    _edit_repomd(site.repo, '<checksum type="sha256">', '<checksum type="../crc32">')
    with pytest.raises(RepoError) as excinfo:
        _open(site, tmp_path)
    assert str(excinfo.value) == (
        f"{site.url}repodata/repomd.xml <data type='primary'>: unsupported checksum type "
        "'../crc32' (expected one of md5, sha, sha1, sha224, sha256, sha384, sha512)"
    )
    assert _outside_cache(tmp_path) == [] and _cached_files(tmp_path) == []


def test_repomd_location_without_a_plain_file_name_is_refused(site: Site,
                                                              tmp_path: Path) -> None:
    checksum = _primary_checksum(site.repo)
    _edit_repomd(site.repo, f'href="repodata/{checksum}-primary.xml.gz"',
                 'href="repodata/.."')
    with pytest.raises(RepoError) as excinfo:
        _open(site, tmp_path)
    assert str(excinfo.value) == (
        f"{site.url}repodata/repomd.xml <data type='primary'>: bad file name in location "
        "'repodata/..': it starts with '.'"
    )
    assert _outside_cache(tmp_path) == [] and _cached_files(tmp_path) == []


def test_primary_checksum_escape_never_serves_a_planted_file_as_the_rpm(
        site: Site, tmp_path: Path, repo_tools: Any, repo_rpms: dict[str, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    # Before the fix, packages/sha256/../../../planted/<name> was "already cached": the
    # planted (wrong, unverified) RPM was inspected, and named in a builder's SBOM.
    real = hashlib.sha256((site.repo / RPM).read_bytes()).hexdigest()
    planted = tmp_path / "planted" / RPM
    planted.parent.mkdir()
    shutil.copy(repo_rpms["libfoo-1.0"], planted)
    new = repo_tools.rewrite_metadata(
        site.repo, "primary", lambda raw: raw.replace(real.encode(), b"../../planted"))
    (tmp_path / "cache" / "packages" / "sha256").mkdir(parents=True)  # as in a warm cache
    before = _outside_cache(tmp_path)
    assert main(["inspect", "libfoo", "--repo", site.url, "--arch", "x86_64",
                 "--cache-dir", str(tmp_path / "cache"), "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {site.url}repodata/{new.name}: package 'libfoo': bad sha256 "
                   "checksum '../../planted': expected 64 lower-case hex digits\n")
    assert _outside_cache(tmp_path) == before
    assert [p for p in _cached_files(tmp_path) if not p.startswith("metadata/")] == []


@pytest.mark.parametrize(("href", "problem"), [
    ("Packages/", "it is empty"),
    ("Packages/..", "it starts with '.'"),
    (".libfoo.rpm", "it starts with '.'"),
    ("a&#10;b.rpm", "it contains a NUL or control character"),
    ("x" * 300 + ".rpm", "it is longer than 255 bytes"),
], ids=["empty", "dotdot", "hidden", "newline", "long"])
def test_primary_location_without_a_plain_file_name_is_refused(
        site: Site, tmp_path: Path, repo_tools: Any, href: str, problem: str) -> None:
    new = repo_tools.rewrite_metadata(
        site.repo, "primary",
        lambda raw: raw.replace(f'href="{RPM}"'.encode(), f'href="{href}"'.encode()))
    with pytest.raises(RepoError) as excinfo:
        _open(site, tmp_path)
    shown = repr(href.replace("&#10;", "\n")[:80]) + ("..." if len(href) > 80 else "")
    assert str(excinfo.value) == (f"{site.url}repodata/{new.name}: package 'libfoo': bad file "
                                  f"name in location {shown}: {problem}")
    assert _outside_cache(tmp_path) == []
    assert not list((tmp_path / "cache" / "index").glob("primary-*"))


def test_remote_repository_may_not_point_at_local_files(site: Site, tmp_path: Path,
                                                        repo_tools: Any) -> None:
    repo_tools.rewrite_metadata(
        site.repo, "primary",
        lambda raw: raw.replace(f'href="{RPM}"'.encode(),
                                f'href="{RPM}" xml:base="file:///etc/"'.encode()))
    with _open(site, tmp_path) as repository, pytest.raises(RepoError) as excinfo:
        repository.latest("libfoo")
    assert str(excinfo.value) == (
        f"{site.url}: package 'libfoo': xml:base 'file:///etc/' is not an http(s) URL; "
        "a remote repository may not point at local files"
    )


def test_symlink_in_the_cache_pointing_out_is_not_followed(site: Site,
                                                           tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "packages").symlink_to(outside)
    before = _outside_cache(tmp_path)
    with _open(site, tmp_path) as repository, pytest.raises(RepoError) as excinfo:
        repository.download(pkg := repository.latest("libfoo"))
    dest = (tmp_path / "cache" / "packages" / "sha256" / pkg.checksum[:2] / pkg.checksum / RPM)
    real = outside / "sha256" / pkg.checksum[:2] / pkg.checksum / RPM
    assert str(excinfo.value) == (f"{site.url}{RPM}: cache path {dest} resolves to {real}, "
                                  f"outside the cache directory {tmp_path / 'cache'}")
    assert _outside_cache(tmp_path) == before  # outside/ is still empty


# --- 2. downloads are bounded by the metadata's size, a cap and a deadline -------------

def _endless(content_length: int | None) -> Behaviour:
    """Send zeros until the client hangs up, announcing ``content_length`` if given."""

    def behave(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if content_length is not None:
            handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        block = bytes(64 * 1024)
        while True:
            handler.wfile.write(block)

    return behave


def _drip(body: bytes, interval: float = 0.1) -> Behaviour:
    """Send ``body`` (with its true length) one byte per ``interval`` seconds."""

    def behave(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for index in range(len(body)):
            handler.wfile.write(body[index:index + 1])
            time.sleep(interval)

    return behave


def _drip_headers(handler: http.server.BaseHTTPRequestHandler) -> None:
    """A status line, then a header line that never ends, one byte per 0.1 s."""
    handler.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
    for _ in range(1000):
        handler.wfile.write(b"x")
        time.sleep(0.1)


@pytest.mark.parametrize("announced", [1 << 30, None], ids=["content-length", "no-length"])
def test_rpm_larger_than_its_metadata_size_stops_and_keeps_nothing(
        site: Site, tmp_path: Path, announced: int | None) -> None:
    size = (site.repo / RPM).stat().st_size
    site.hostile[site.path_of(RPM)] = _endless(announced)
    before = _outside_cache(tmp_path)
    with _open(site, tmp_path) as repository, pytest.raises(RepoError) as excinfo:
        repository.download(repository.latest("libfoo"))
    amount = "1073741824 bytes offered, over" if announced else "more than"
    assert str(excinfo.value) == (f"{site.url}{RPM}: too large: {amount} the {size} bytes the "
                                  "repository metadata gives; the file was not used")
    assert not [p for p in _cached_files(tmp_path) if not p.startswith(("metadata/", "index/"))]
    assert _outside_cache(tmp_path) == before


@pytest.mark.parametrize("announced", [1 << 30, None], ids=["content-length", "no-length"])
def test_repomd_beyond_16_mib_is_refused(site: Site, tmp_path: Path,
                                         announced: int | None) -> None:
    site.hostile[site.path_of("repodata/repomd.xml")] = _endless(announced)
    with pytest.raises(RepoError) as excinfo:
        _open(site, tmp_path)
    amount = "1073741824 bytes offered, over" if announced else "more than"
    assert str(excinfo.value) == (
        f"{site.url}repodata/repomd.xml: too large: {amount} 16 MiB, the limit for a file of "
        "unknown size; the file was not used"
    )
    assert _outside_cache(tmp_path) == [] and _cached_files(tmp_path) == []


def test_dripping_server_fails_at_the_deadline_not_never(site: Site, tmp_path: Path) -> None:
    # One byte per 0.02 s never trips the 1 s read timeout; the average rate does, once
    # the 1.5 s grace (connect + read timeout) is over.
    site.hostile[site.path_of(RPM)] = _drip((site.repo / RPM).read_bytes(), interval=0.02)
    with _open(site, tmp_path) as repository:
        pkg = repository.latest("libfoo")
        started = time.monotonic()
        with pytest.raises(RepoError) as excinfo:
            repository.download(pkg)
    # Bounded (without the deadline it never ends); generous for a busy machine.
    assert time.monotonic() - started < 30
    assert re.fullmatch(rf"{re.escape(site.url + RPM)}: too slow: \d+ bytes in \d+\.\d s, "
                        r"under 64 KiB/s on average after the first 1\.5 s", str(excinfo.value))
    assert not list((tmp_path / "cache" / "packages").rglob("*"))
    assert not list((tmp_path / "cache" / "partial").iterdir())
    assert _outside_cache(tmp_path) == []


def test_dripping_headers_are_cut_off_at_the_deadline(site: Site, tmp_path: Path) -> None:
    size = (site.repo / RPM).stat().st_size
    site.hostile[site.path_of(RPM)] = _drip_headers
    with _open(site, tmp_path) as repository:
        pkg = repository.latest("libfoo")
        started = time.monotonic()
        with pytest.raises(RepoError) as excinfo:
            repository.download(pkg)
    # Bounded (without the deadline it never ends); generous for a busy machine.
    assert time.monotonic() - started < 30
    deadline = 1.5 + size / (64 * 1024)  # grace + size / minimum rate
    assert str(excinfo.value) == (f"{site.url}{RPM}: too slow: no complete response within "
                                  f"the {deadline:.1f} s deadline")
    assert not list((tmp_path / "cache" / "packages").rglob("*"))
    assert _outside_cache(tmp_path) == []


def _resolver(slow: str, fast: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """getaddrinfo where ``slow`` hangs (a resolver that never answers) and ``fast`` is
    127.0.0.1: the one OS call this test fakes, since it cannot change /etc/resolv.conf."""
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == slow:
            time.sleep(30)
        return real("127.0.0.1" if host == fast else host, port, *args, **kwargs)
    return getaddrinfo


def test_a_hanging_name_lookup_fails_at_the_connect_timeout(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "getaddrinfo",
                        _resolver("slow.test", "mirror.test", socket.getaddrinfo))
    started = time.monotonic()
    slow = RepoSource("update", site.url.replace("127.0.0.1", "slow.test"))
    with pytest.raises(RepoError) as excinfo:
        Repository([slow], "x86_64", cache_dir=tmp_path / "cache", options=QUICK)
    # Bounded by the 0.5 s connect timeout, not by the 30 s the lookup hangs.
    assert time.monotonic() - started < 10
    assert "cannot resolve host 'slow.test' within 0.5 s" in str(excinfo.value)
    # A name that resolves is connected to at the address the lookup gave.
    fast = RepoSource("update", site.url.replace("127.0.0.1", "mirror.test"))
    with Repository([fast], "x86_64", cache_dir=tmp_path / "cache2",
                    options=QUICK) as repository:
        assert repository.download(repository.latest("libfoo")).is_file()


# --- 3. partial files of killed runs are swept, others' live ones are not --------------

_CHILD_DOWNLOAD = """
import sys
from sdfgen.repo.fetch import Fetcher, FetchOptions
fetcher = Fetcher(FetchOptions(connect_timeout=5, read_timeout=5, retries=0), sys.argv[1])
dest = fetcher.package_path("sha256", "0" * 64, sys.argv[2])
fetcher.fetch_verified(sys.argv[2], dest, "sha256", "0" * 64, 10**6)
"""

_CHILD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "rb")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def _wait_for(predicate: Callable[[], Any], seconds: float = 10) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_partial_file_of_a_killed_download_is_swept_later(site: Site, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site.hostile["/drip"] = _drip(bytes(10**6))
    url = site.url.replace("/repo/", "/drip")
    killed = subprocess.Popen([sys.executable, "-c", _CHILD_DOWNLOAD, str(cache), url])
    try:
        leftover = _wait_for(lambda: killed.poll() is None
                             and list((cache / "partial").glob(".partial-*")))
        assert killed.poll() is None, "the download ended before it was killed"
    finally:
        killed.kill()  # SIGKILL: no clean-up code runs
        killed.wait()
    assert len(leftover) == 1 and leftover[0].exists()
    hour_ago = time.time() - 3700
    os.utime(leftover[0], (hour_ago, hour_ago))
    # A recent partial file and an old one another running process holds a lock on:
    # both may still be written, so both stay.
    recent = cache / "partial" / ".partial-recent"
    recent.write_bytes(b"x")
    held = cache / "partial" / ".partial-held"
    held.write_bytes(b"x")
    os.utime(held, (hour_ago, hour_ago))
    holder = subprocess.Popen([sys.executable, "-c", _CHILD_LOCK, str(held)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with _open(site, tmp_path) as repository:  # the first write sweeps
            repository.download(repository.latest("libfoo"))
        assert sorted(p.name for p in (cache / "partial").iterdir()) == \
            [".partial-held", ".partial-recent"]
    finally:
        holder.kill()
        holder.wait()
    assert CacheDir(cache).sweep_partials() == 1  # the lock died with its process
    assert _outside_cache(tmp_path) == []
