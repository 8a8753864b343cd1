"""Fetching repository files over http(s), file:// or from plain paths, into a cache.

Every network failure becomes a one-line RepoError naming the URL; transient failures
(timeouts, resets, refused connections, HTTP 408/429/5xx) are retried with exponential
backoff a bounded number of times, so an unreachable mirror fails in bounded time.
Files with a known checksum are downloaded to a temp file, hashed while streaming,
and moved into the cache with ``os.replace`` only when the digest matches.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from sdfgen.errors import ChecksumError, RepoError

ProgressCallback = Callable[[str, int, "int | None"], None]
"""Called as ``progress(url, bytes_done, bytes_total_or_None)`` while a file is fetched."""

_CHUNK = 256 * 1024
# Retrying a 404 or 403 cannot help; these codes mean "try again later".
_TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
# Names in repodata that mean the same hash as hashlib's.
_HASH_ALIASES = {"sha": "sha1", "sha-1": "sha1", "sha-256": "sha256"}
_USER_AGENT = "sdfgen/0.1 (python-urllib)"

_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: timeouts in seconds, retries after the first attempt, backoff base."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry, doubled for each further one
    progress: ProgressCallback | None = None


def default_cache_dir() -> Path:
    """``$SDFGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/sdfgen``, else ``~/.cache/sdfgen``."""
    if os.environ.get("SDFGEN_CACHE_DIR"):
        return Path(os.environ["SDFGEN_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "sdfgen"
    return Path.home() / ".cache" / "sdfgen"


def join_url(base: str, location: str) -> str:
    """``location`` (a repodata href) resolved against a base URL or directory."""
    if urlsplit(location).scheme:
        return location
    if urlsplit(base).scheme in ("http", "https", "file"):
        # hrefs in repodata are not percent-encoded; '+' in libstdc++ is fine as it is.
        return urljoin(base, quote(location, safe="/+~:@!$&'()*,;="))
    return os.path.normpath(os.path.join(base, location))


def new_hash(checksum_type: str, url: str) -> hashlib._Hash:
    """A hashlib object for a repodata checksum type (``sha256``, ``sha``, ...)."""
    name = _HASH_ALIASES.get(checksum_type.lower(), checksum_type.lower())
    try:
        return hashlib.new(name)
    except ValueError:
        raise RepoError(f"{url}: unsupported checksum type {checksum_type!r}") from None


def file_digest(path: Path, checksum_type: str) -> str:
    """The hex digest of a local file."""
    digest = new_hash(checksum_type, str(path))
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _TimedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect and read timeouts differ."""

    def __init__(self, *args: object, read_timeout: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type,call-overload]
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()  # bounded by self.timeout, the connect timeout
        self.sock.settimeout(self._read_timeout)


class _TimedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose connect (and TLS handshake) and read timeouts differ."""

    def __init__(self, *args: object, read_timeout: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type,call-overload]
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._read_timeout = read_timeout

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(_TimedHTTPConnection, read_timeout=self._read_timeout)
        return self.do_open(factory, req)  # type: ignore[arg-type]


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._read_timeout = read_timeout

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(_TimedHTTPSConnection, read_timeout=self._read_timeout)
        return self.do_open(factory, req, context=self._context)  # type: ignore[arg-type,attr-defined]


class _Transient(Exception):
    """A failure worth retrying; ``message`` is the user-facing text if retries run out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Fetcher:
    """Fetches URLs and directories' files with the given options into ``cache_dir``."""

    def __init__(self, options: FetchOptions | None = None,
                 cache_dir: str | Path | None = None) -> None:
        self.options = options or FetchOptions()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._opener = urllib.request.build_opener(
            _HTTPHandler(self.options.read_timeout), _HTTPSHandler(self.options.read_timeout)
        )

    def read_bytes(self, url: str) -> bytes:
        """The whole content of a small file (repomd.xml); not cached, not verified."""

        def attempt() -> bytes:
            with self._stream(url) as (stream, _total):
                return _read_all(stream)

        return self._with_retries(url, attempt)

    def fetch_verified(self, url: str, dest: Path, checksum_type: str, checksum: str,
                       size: int | None = None) -> Path:
        """``dest`` holding ``url``'s content whose digest is ``checksum``.

        An existing ``dest`` is trusted: only verified content is ever moved there.
        Raises ChecksumError (nothing is kept) on a digest mismatch, RepoError when
        the file cannot be fetched.
        """
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        expected = checksum.lower()

        def attempt() -> str:
            with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".partial-",
                                             delete=False) as temp:
                try:
                    digest = new_hash(checksum_type, url)
                    with self._stream(url) as (stream, total):
                        self._copy(url, stream, temp, digest, total or size)
                except BaseException:
                    os.unlink(temp.name)
                    raise
            actual = digest.hexdigest()
            if actual != expected:
                os.unlink(temp.name)
                raise ChecksumError(
                    f"{url}: checksum mismatch: expected {checksum_type}:{expected}, "
                    f"got {checksum_type}:{actual}; the file was not used"
                )
            return temp.name

        temp_name = self._with_retries(url, attempt)
        os.replace(temp_name, dest)
        return dest

    def metadata_path(self, checksum_type: str, checksum: str, url: str) -> Path:
        """Where a metadata file with this checksum lives in the cache."""
        name = os.path.basename(urlsplit(url).path) or "metadata"
        # createrepo already prefixes names with the digest; avoid doubling it.
        if not name.startswith(checksum):
            name = f"{checksum}-{name}"
        return self.cache_dir / "metadata" / checksum_type / name

    def package_path(self, checksum_type: str, checksum: str, url: str) -> Path:
        """Where an RPM with this checksum lives in the cache (keeping its file name)."""
        name = os.path.basename(urlsplit(url).path) or "package.rpm"
        return self.cache_dir / "packages" / checksum_type / checksum[:2] / checksum / name

    def _with_retries(self, url: str, attempt: Callable[[], _T]) -> _T:
        tries = self.options.retries + 1
        for number in range(1, tries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if number == tries:
                    suffix = f" (after {tries} attempts)" if tries > 1 else ""
                    raise RepoError(f"{url}: {exc.message}{suffix}") from None
                time.sleep(self.options.backoff * (2 ** (number - 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy(self, url: str, stream: IO[bytes], out: IO[bytes], digest: hashlib._Hash,
              total: int | None) -> None:
        done = 0
        progress = self.options.progress
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except TimeoutError:
                raise _Transient(f"read timed out after {self.options.read_timeout:g} s") from None
            except (http.client.HTTPException, ConnectionError) as exc:
                raise _Transient(f"download interrupted: {_describe(exc)}") from None
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(url, done, total)
        if total is not None and done < total and urlsplit(url).scheme in ("http", "https"):
            raise _Transient(f"download interrupted: got {done} of {total} bytes")

    def _stream(self, url: str) -> _Opened:
        return _Opened(self, url)

    def _open_remote(self, url: str) -> tuple[IO[bytes], int | None]:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            response = self._opener.open(request, timeout=self.options.connect_timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            message = f"HTTP {exc.code} {exc.reason}"
            if exc.code in _TRANSIENT_HTTP:
                raise _Transient(message) from None
            raise RepoError(f"{url}: {message}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, socket.gaierror):
                host = urlsplit(url).hostname
                raise RepoError(f"{url}: cannot resolve host {host!r}") from None
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Transient(
                    f"cannot connect: timed out after {self.options.connect_timeout:g} s"
                ) from None
            if isinstance(reason, OSError):
                raise _Transient(f"cannot connect: {_describe(reason)}") from None
            raise RepoError(f"{url}: {reason}") from None
        except TimeoutError:
            raise _Transient(f"timed out after {self.options.read_timeout:g} s") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise _Transient(f"connection failed: {_describe(exc)}") from None
        length = response.headers.get("Content-Length")
        return response, int(length) if length and length.isdigit() else None


class _Opened:
    """Context manager: ``(stream, total_bytes_or_None)`` for a URL or local path."""

    def __init__(self, fetcher: Fetcher, url: str) -> None:
        self._fetcher = fetcher
        self._url = url
        self._stream: IO[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int | None]:
        scheme = urlsplit(self._url).scheme.lower()
        if scheme in ("http", "https"):
            self._stream, total = self._fetcher._open_remote(self._url)
            return self._stream, total
        path = local_path(self._url)
        try:
            self._stream = path.open("rb")
            return self._stream, os.fstat(self._stream.fileno()).st_size
        except FileNotFoundError:
            raise RepoError(f"{self._url}: no such file") from None
        except OSError as exc:
            raise RepoError(f"{self._url}: cannot read: {_describe(exc)}") from None

    def __exit__(self, *exc_info: object) -> None:
        if self._stream is not None:
            self._stream.close()


def local_path(url: str) -> Path:
    """The filesystem path of a ``file://`` URL or a plain path."""
    if urlsplit(url).scheme.lower() == "file":
        return Path(urllib.request.url2pathname(urlsplit(url).path))
    return Path(url)


def is_remote(url: str) -> bool:
    """Whether ``url`` is fetched over the network (http or https)."""
    return urlsplit(url).scheme.lower() in ("http", "https")


def _read_all(stream: IO[bytes]) -> bytes:
    try:
        return stream.read()
    except TimeoutError:
        raise _Transient("read timed out") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise _Transient(f"download interrupted: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
