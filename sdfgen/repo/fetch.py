"""Fetching repository files over http(s), file:// or from plain paths, into a cache.

Every network failure becomes a one-line RepoError naming the URL; transient failures
(timeouts, resets, refused connections, HTTP 408/429/5xx, a too slow transfer) are
retried with exponential backoff a bounded number of times, so an unreachable mirror
fails in bounded time. Files with a known checksum are downloaded to a temp file in the
cache, hashed while streaming, and moved into place with ``os.replace`` only when the
digest matches; :mod:`sdfgen.repo.cache` decides (and checks) where they go.

Every download is bounded in size and time, so a hostile or broken server can neither
fill the disk nor hold a run for ever:

- size: a file may not exceed the size the metadata gives (it stops as soon as it
  does); repomd.xml, whose size nothing gives, may not exceed ``small_file_limit``
  (16 MiB; real ones are a few KB); another file without a size, ``unsized_limit``.
- time: besides the per-read timeout, an attempt has an overall deadline. After a grace
  of connect timeout + read timeout it must average ``min_rate`` (64 KiB/s): it fails
  once ``elapsed > grace + bytes_received / min_rate``. As the size is bounded, so is
  every attempt: at most ``grace + size / min_rate`` seconds, when a watchdog closes the
  connection (also mid-headers or mid-handshake). A server that drips a byte every few
  seconds thus fails about ``grace`` seconds in, not never.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from sdfgen.errors import ChecksumError, RepoError
from sdfgen.repo.cache import CacheDir, checked_checksum, checksum_type
from sdfgen.repo.transport import Deadline, ResolveTimeout, build_opener

ProgressCallback = Callable[[str, int, "int | None"], None]
"""Called as ``progress(url, bytes_done, bytes_total_or_None)`` while a file is fetched."""

_CHUNK = 256 * 1024
# Retrying a 404 or 403 cannot help; these codes mean "try again later".
_TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = "sdfgen/0.1 (python-urllib)"
_MIB = 1024 * 1024

_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: timeouts in seconds, retries after the first attempt, backoff base,
    and the bounds of a download (see the module docstring)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry, doubled for each further one
    progress: ProgressCallback | None = None
    min_rate: float = 64 * 1024  # bytes/s a download must average after the grace period
    small_file_limit: int = 16 * _MIB  # repomd.xml
    unsized_limit: int = 1024 * _MIB  # a verified file whose metadata gives no size


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


def new_hash(type_value: str, url: str) -> hashlib._Hash:
    """A hashlib object for a repodata checksum type (``sha256``, ``sha``, ...).

    Raises RepoError naming ``url`` for a type outside the supported list.
    """
    return hashlib.new(checksum_type(type_value, url))


def file_digest(path: Path, type_value: str) -> str:
    """The hex digest of a local file."""
    digest = new_hash(type_value, str(path))
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Transient(Exception):
    """A failure worth retrying; ``message`` is the user-facing text if retries run out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Fetcher:
    """Fetches URLs and directories' files with the given options into ``cache_dir``
    (made absolute; default :func:`default_cache_dir`)."""

    def __init__(self, options: FetchOptions | None = None,
                 cache_dir: str | Path | None = None) -> None:
        self.options = options or FetchOptions()
        self.cache = CacheDir(cache_dir if cache_dir is not None else default_cache_dir())
        self.cache_dir = self.cache.root

    def read_bytes(self, url: str) -> bytes:
        """The whole content of a small file (repomd.xml); not cached, not verified.

        Raises RepoError when it is larger than ``small_file_limit``.
        """
        limit = self.options.small_file_limit

        def attempt() -> bytes:
            out = io.BytesIO()
            with self._stream(url, limit) as opened:
                self._copy(opened, out, None, limit, sized=False)
            return out.getvalue()

        return self._with_retries(url, attempt)

    def fetch_verified(self, url: str, dest: Path, checksum_type: str, checksum: str,
                       size: int | None = None) -> Path:
        """``dest`` holding ``url``'s content whose digest is ``checksum``.

        An existing ``dest`` of the right size is trusted: only verified content is ever
        moved there, and ``dest`` is confined to the cache. Raises ChecksumError (nothing
        is kept) on a digest mismatch, RepoError when the file cannot be fetched, is
        larger than ``size`` or the checksum is not a valid one.
        """
        name, expected = checked_checksum(checksum_type, checksum, url)
        self.cache.confine(dest, url)
        if dest.is_file() and (size is None or dest.stat().st_size == size):
            return dest
        limit = size if size is not None else self.options.unsized_limit

        def attempt() -> Path:
            with self.cache.partial_file() as partial:
                digest = hashlib.new(name)
                with self._stream(url, limit) as opened:
                    self._copy(opened, partial.file, digest, limit, sized=size is not None)
                actual = digest.hexdigest()
                if actual != expected:
                    raise ChecksumError(
                        f"{url}: checksum mismatch: expected {name}:{expected}, "
                        f"got {name}:{actual}; the file was not used"
                    )
                return partial.commit(dest, url)

        return self._with_retries(url, attempt)

    def metadata_path(self, checksum_type: str, checksum: str, url: str) -> Path:
        """Where a metadata file with this checksum lives in the cache (validated)."""
        return self.cache.metadata_path(checksum_type, checksum, url)

    def package_path(self, checksum_type: str, checksum: str, url: str) -> Path:
        """Where an RPM with this checksum lives in the cache (validated, its file name)."""
        return self.cache.package_path(checksum_type, checksum, url)

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

    def _copy(self, opened: _Opened, out: IO[bytes], digest: hashlib._Hash | None,
              limit: int, *, sized: bool) -> None:
        """Stream ``opened`` into ``out`` (and ``digest``), stopping beyond ``limit`` bytes
        or when the transfer is too slow; ``sized``: the limit is the metadata's size."""
        url = opened.url
        if opened.total is not None and opened.total > limit:
            raise _too_large(url, limit, sized, opened.total)
        expected = opened.total if opened.total is not None else (limit if sized else None)
        done = 0
        progress = self.options.progress
        # read1: one receive per call, so the deadline is checked between receives (a
        # buffered read() would wait for a whole chunk however slowly it arrives).
        read = opened.stream.read1
        while True:
            try:
                chunk = read(_CHUNK)
            except TimeoutError:
                opened.check_deadline()
                raise _Transient(f"read timed out after {self.options.read_timeout:g} s") from None
            except (http.client.HTTPException, OSError, ValueError) as exc:
                opened.check_deadline()
                raise _Transient(f"download interrupted: {_describe(exc)}") from None
            if not chunk:
                break
            done += len(chunk)
            if done > limit:
                raise _too_large(url, limit, sized)
            if digest is not None:
                digest.update(chunk)
            out.write(chunk)
            if progress is not None:
                progress(url, done, expected)
            opened.check_rate(done)
        opened.check_deadline()
        if expected is not None and done < expected and opened.deadline is not None:
            raise _Transient(f"download interrupted: got {done} of {expected} bytes")

    def _stream(self, url: str, limit: int) -> _Opened:
        return _Opened(self, url, limit)

    def _open_remote(self, url: str, deadline: Deadline) -> tuple[io.BufferedIOBase, int | None]:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        opener = build_opener(self.options.read_timeout, deadline)
        try:
            response = opener.open(request, timeout=self.options.connect_timeout)
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
            if isinstance(reason, ResolveTimeout):
                raise _Transient(str(reason)) from None
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Transient(
                    f"cannot connect: timed out after {self.options.connect_timeout:g} s"
                ) from None
            if isinstance(reason, OSError):
                raise _Transient(f"cannot connect: {_describe(reason)}") from None
            raise RepoError(f"{url}: {reason}") from None
        except TimeoutError:
            raise _Transient(f"timed out after {self.options.read_timeout:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise _Transient(f"connection failed: {_describe(exc)}") from None
        length = response.headers.get("Content-Length")
        return response, int(length) if length and length.isdigit() else None


class _Opened:
    """Context manager over one attempt to read a URL or local path: ``stream``,
    ``total`` (Content-Length or file size, if known) and, for http(s), its deadline."""

    def __init__(self, fetcher: Fetcher, url: str, limit: int) -> None:
        self._fetcher = fetcher
        self.url = url
        options = fetcher.options
        self._grace = options.connect_timeout + options.read_timeout
        self._min_rate = options.min_rate
        self._limit = limit
        self.deadline: Deadline | None = None
        self.stream: io.BufferedIOBase = io.BytesIO()
        self.total: int | None = None

    def __enter__(self) -> _Opened:
        scheme = urlsplit(self.url).scheme.lower()
        if scheme in ("http", "https"):
            self.deadline = Deadline(self._grace + self._limit / self._min_rate)
            try:
                self.stream, self.total = self._fetcher._open_remote(self.url, self.deadline)
            except _Transient:
                self.deadline.cancel()
                self.check_deadline()  # the watchdog's doing: say so, not "reset"
                raise
            except BaseException:
                self.deadline.cancel()
                raise
            return self
        path = local_path(self.url)
        try:
            self.stream = path.open("rb")
            self.total = os.fstat(self.stream.fileno()).st_size
            return self
        except FileNotFoundError:
            raise RepoError(f"{self.url}: no such file") from None
        except OSError as exc:
            raise RepoError(f"{self.url}: cannot read: {_describe(exc)}") from None

    def check_rate(self, done: int) -> None:
        """Raise a transient error when ``done`` bytes came too slowly (see the module)."""
        if self.deadline is None:
            return
        elapsed = self.deadline.elapsed()
        if elapsed > self._grace + done / self._min_rate:
            raise _Transient(
                f"too slow: {done} bytes in {elapsed:.1f} s, under "
                f"{self._min_rate / 1024:g} KiB/s on average after the first {self._grace:g} s"
            )

    def check_deadline(self) -> None:
        """Raise a transient error if the watchdog ended this attempt."""
        if self.deadline is not None and self.deadline.expired:
            raise _Transient(f"too slow: no complete response within the "
                             f"{self.deadline.seconds:.1f} s deadline")

    def __exit__(self, *exc_info: object) -> None:
        if self.deadline is not None:
            self.deadline.cancel()  # before the socket is closed and its number reused
        self.stream.close()


def local_path(url: str) -> Path:
    """The filesystem path of a ``file://`` URL or a plain path."""
    if urlsplit(url).scheme.lower() == "file":
        return Path(urllib.request.url2pathname(urlsplit(url).path))
    return Path(url)


def is_remote(url: str) -> bool:
    """Whether ``url`` is fetched over the network (http or https)."""
    return urlsplit(url).scheme.lower() in ("http", "https")


def _too_large(url: str, limit: int, sized: bool, offered: int | None = None) -> RepoError:
    """The error for a file beyond its size bound; never retried, nothing kept."""
    bound = (f"the {limit} bytes the repository metadata gives" if sized
             else f"{limit / _MIB:g} MiB, the limit for a file of unknown size")
    amount = f"{offered} bytes offered, over" if offered is not None else "more than"
    return RepoError(f"{url}: too large: {amount} {bound}; the file was not used")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
