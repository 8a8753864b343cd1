"""Tests for sdfgen.repo.fetch against a real HTTP server on 127.0.0.1 and local files."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdfgen.errors import ChecksumError, RepoError
from sdfgen.repo.fetch import Fetcher, FetchOptions, default_cache_dir, join_url, local_path

BODY = b"repository content " * 5000  # ~95 KB: several chunks
FAST = FetchOptions(connect_timeout=2, read_timeout=2, retries=2, backoff=0.01)


class _Server(http.server.ThreadingHTTPServer):
    hits: Counter[str]
    flaky_failures: int


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits[self.path] += 1
        hits = self.server.hits[self.path]
        if self.path == "/file":
            self._send(200, BODY)
        elif self.path == "/flaky" and hits <= self.server.flaky_failures:
            self._send(503, b"busy")
        elif self.path == "/flaky":
            self._send(200, BODY)
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, BODY)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:100])
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404, b"not here")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[_Server, str]]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.hits = Counter()
    srv.flaky_failures = 2
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[Path]:
    """Every file (not directory) below ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if not p.is_dir())


def test_read_bytes_over_http(server: tuple[_Server, str], tmp_path: Path) -> None:
    _srv, url = server
    assert Fetcher(FAST, tmp_path).read_bytes(f"{url}/file") == BODY


def test_fetch_verified_reports_progress_and_caches(server: tuple[_Server, str],
                                                    tmp_path: Path) -> None:
    srv, url = server
    seen: list[tuple[str, int, int | None]] = []
    options = FetchOptions(connect_timeout=2, read_timeout=2, progress=lambda *a: seen.append(a))
    fetcher = Fetcher(options, tmp_path / "cache")
    dest = fetcher.package_path("sha256", sha256(BODY), f"{url}/file")
    assert fetcher.fetch_verified(f"{url}/file", dest, "sha256", sha256(BODY)) == dest
    assert dest.read_bytes() == BODY
    assert seen[-1] == (f"{url}/file", len(BODY), len(BODY))
    assert [done for _u, done, _t in seen] == sorted(done for _u, done, _t in seen)
    # A second fetch is served from the cache: no new request.
    fetcher.fetch_verified(f"{url}/file", dest, "sha256", sha256(BODY))
    assert srv.hits["/file"] == 1


def test_checksum_mismatch_names_url_and_digests_and_keeps_nothing(
        server: tuple[_Server, str], tmp_path: Path) -> None:
    _srv, url = server
    fetcher = Fetcher(FAST, tmp_path / "cache")
    wrong = "0" * 64
    dest = fetcher.metadata_path("sha256", wrong, f"{url}/file")
    with pytest.raises(ChecksumError) as excinfo:
        fetcher.fetch_verified(f"{url}/file", dest, "sha256", wrong)
    assert str(excinfo.value) == (
        f"{url}/file: checksum mismatch: expected sha256:{wrong}, got sha256:{sha256(BODY)}; "
        "the file was not used"
    )
    assert _files(tmp_path / "cache") == []  # neither the file nor a partial temp file


def test_404_is_not_retried(server: tuple[_Server, str], tmp_path: Path) -> None:
    srv, url = server
    with pytest.raises(RepoError) as excinfo:
        Fetcher(FAST, tmp_path).read_bytes(f"{url}/missing")
    assert str(excinfo.value) == f"{url}/missing: HTTP 404 Not Found"
    assert srv.hits["/missing"] == 1


def test_transient_503_is_retried_until_it_succeeds(server: tuple[_Server, str],
                                                    tmp_path: Path) -> None:
    srv, url = server
    assert Fetcher(FAST, tmp_path).read_bytes(f"{url}/flaky") == BODY
    assert srv.hits["/flaky"] == 3


def test_retries_are_bounded(server: tuple[_Server, str], tmp_path: Path) -> None:
    srv, url = server
    srv.flaky_failures = 100
    with pytest.raises(RepoError) as excinfo:
        Fetcher(FAST, tmp_path).read_bytes(f"{url}/flaky")
    assert str(excinfo.value) == f"{url}/flaky: HTTP 503 Service Unavailable (after 3 attempts)"
    assert srv.hits["/flaky"] == 3


def test_unreachable_host_fails_with_the_url(repo_closed_port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{repo_closed_port}/repodata/repomd.xml"
    with pytest.raises(RepoError) as excinfo:
        Fetcher(FAST, tmp_path).read_bytes(url)
    assert str(excinfo.value) == f"{url}: cannot connect: Connection refused (after 3 attempts)"


def test_read_timeout_is_separate_from_connect_timeout(server: tuple[_Server, str],
                                                       tmp_path: Path) -> None:
    _srv, url = server
    options = FetchOptions(connect_timeout=5, read_timeout=0.3, retries=0)
    with pytest.raises(RepoError) as excinfo:
        Fetcher(options, tmp_path).read_bytes(f"{url}/slow")
    assert str(excinfo.value) == f"{url}/slow: timed out after 0.3 s"


def test_truncated_transfer_is_retried_then_reported(server: tuple[_Server, str],
                                                     tmp_path: Path) -> None:
    srv, url = server
    fetcher = Fetcher(FAST, tmp_path / "cache")
    dest = fetcher.package_path("sha256", sha256(BODY), f"{url}/truncated")
    with pytest.raises(RepoError) as excinfo:
        fetcher.fetch_verified(f"{url}/truncated", dest, "sha256", sha256(BODY))
    assert str(excinfo.value).startswith(f"{url}/truncated: download interrupted")
    assert str(excinfo.value).endswith("(after 3 attempts)")
    assert srv.hits["/truncated"] == 3
    assert not dest.exists() and _files(tmp_path / "cache") == []


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    source = tmp_path / "dir with space" / "f.bin"
    source.parent.mkdir()
    source.write_bytes(BODY)
    fetcher = Fetcher(FAST, tmp_path / "cache")
    assert fetcher.read_bytes(str(source)) == BODY
    assert fetcher.read_bytes(source.as_uri()) == BODY
    dest = fetcher.package_path("sha256", sha256(BODY), source.as_uri())
    fetcher.fetch_verified(source.as_uri(), dest, "sha256", sha256(BODY))
    assert dest.name == "f.bin" and dest.read_bytes() == BODY


def test_missing_local_file(tmp_path: Path) -> None:
    with pytest.raises(RepoError) as excinfo:
        Fetcher(FAST, tmp_path).read_bytes(str(tmp_path / "nope.xml"))
    assert str(excinfo.value) == f"{tmp_path / 'nope.xml'}: no such file"


def test_unsupported_checksum_type(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x")
    fetcher = Fetcher(FAST, tmp_path / "cache")
    with pytest.raises(RepoError, match=r"/f: unsupported checksum type 'crc99'"):
        fetcher.fetch_verified(str(source), tmp_path / "cache" / "f", "crc99", "00")


def test_default_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SDFGEN_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("SDFGEN_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "sdfgen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "sdfgen"
    assert Fetcher(cache_dir=tmp_path / "override").cache_dir == tmp_path / "override"


def test_join_url_and_local_path() -> None:
    assert join_url("http://h/r/x86_64/", "Packages/libstdc++-1.rpm") == \
        "http://h/r/x86_64/Packages/libstdc++-1.rpm"
    assert join_url("http://h/r/", "a b.rpm") == "http://h/r/a%20b.rpm"
    assert join_url("/srv/r/", "repodata/repomd.xml") == "/srv/r/repodata/repomd.xml"
    assert join_url("/srv/r/", "http://other/x.rpm") == "http://other/x.rpm"
    assert local_path("file:///srv/a%20b/x") == Path("/srv/a b/x")


def test_cached_file_of_the_wrong_size_is_fetched_again(server: tuple[_Server, str],
                                                        tmp_path: Path) -> None:
    srv, url = server
    fetcher = Fetcher(FAST, tmp_path / "cache")
    dest = fetcher.package_path("sha256", sha256(BODY), f"{url}/file")
    dest.parent.mkdir(parents=True)
    dest.write_bytes(BODY[:10])  # say, cut short when the machine lost power
    fetcher.fetch_verified(f"{url}/file", dest, "sha256", sha256(BODY), len(BODY))
    assert dest.read_bytes() == BODY and srv.hits["/file"] == 1


def test_local_file_larger_than_its_metadata_size_is_not_used(tmp_path: Path) -> None:
    source = tmp_path / "big.rpm"
    source.write_bytes(BODY)
    fetcher = Fetcher(FAST, tmp_path / "cache")
    dest = fetcher.package_path("sha256", sha256(BODY), str(source))
    with pytest.raises(RepoError) as excinfo:
        fetcher.fetch_verified(str(source), dest, "sha256", sha256(BODY), 1000)
    assert str(excinfo.value) == (
        f"{source}: too large: {len(BODY)} bytes offered, over the 1000 bytes the repository "
        "metadata gives; the file was not used"
    )
    assert _files(tmp_path / "cache") == []
