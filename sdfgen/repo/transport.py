"""HTTP(S) connections for the fetcher: separate connect and read timeouts, and a deadline.

A socket timeout bounds each read, not a download: a server that sends one byte just
before every timeout keeps a transfer alive for ever. So every attempt also gets a
:class:`Deadline`, an overall time budget; when it runs out, a watchdog thread shuts the
attempt's sockets down, which ends whatever read is blocked on them (the status line and
headers, the TLS handshake or the body) and lets the fetcher report the deadline. Host
name lookups, which no socket timeout bounds, are bounded by the connect timeout (and the
deadline) too.
"""

from __future__ import annotations

import functools
import http.client
import socket
import threading
import time
import urllib.request
from typing import Any


class Deadline:
    """The time budget of one download attempt, enforced by shutting its sockets down.

    ``seconds`` counts from construction. The watchdog thread starts with the first
    socket (local files need none) and is stopped by :meth:`cancel`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._fds: list[int] = []
        self._timer: threading.Timer | None = None
        self._cancelled = False

    def elapsed(self) -> float:
        """Seconds since the attempt started."""
        return time.monotonic() - self._start

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has passed)."""
        with self._lock:
            if self._cancelled:
                return
            # The file descriptor, not the object: wrapping a socket for TLS detaches
            # the plain socket object, but the descriptor stays the same.
            self._fds.append(sock.fileno())
            if self._timer is None:
                self._timer = threading.Timer(max(0.0, self.seconds - self.elapsed()),
                                              self._expire)
                self._timer.daemon = True
                self._timer.start()

    def cancel(self) -> None:
        """Stop the watchdog; call before the attempt's sockets are closed."""
        with self._lock:
            self._cancelled = True
            if self._timer is not None:
                self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._cancelled:
                return  # the attempt ended; its descriptors may belong to others now
            self.expired = True
            for fd in self._fds:
                _shutdown(fd)


def _shutdown(fd: int) -> None:
    """Shut the socket ``fd`` down for reading and writing without closing it."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer or not connected
    finally:
        sock.detach()  # the descriptor still belongs to the connection


class _TimedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect and read timeouts differ, under a deadline."""

    def __init__(self, *args: Any, read_timeout: float, deadline: Deadline | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout
        self._create_connection = _watched(
            self._create_connection, deadline)  # type: ignore[has-type]

    def connect(self) -> None:
        super().connect()  # bounded by self.timeout, the connect timeout
        self.sock.settimeout(self._read_timeout)


class _TimedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose connect (and TLS handshake) and read timeouts differ."""

    def __init__(self, *args: Any, read_timeout: float, deadline: Deadline | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout
        self._create_connection = _watched(
            self._create_connection, deadline)  # type: ignore[has-type]

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


class ResolveTimeout(TimeoutError):
    """A host name was not resolved within the connect timeout (or the deadline)."""

    def __init__(self, host: str, seconds: float) -> None:
        super().__init__(f"cannot resolve host {host!r} within {seconds:g} s")
        self.host = host
        self.seconds = seconds


def _watched(create: Any, deadline: Deadline | None) -> Any:
    """``socket.create_connection`` whose host name lookup is bounded by the connect
    timeout and the deadline (getaddrinfo cannot be interrupted, so it runs in a
    daemon thread that is left behind if it hangs), and whose sockets ``deadline``
    watches from the start."""

    def create_connection(address: tuple[str, int], timeout: Any = None,
                          source_address: Any = None, **kwargs: Any) -> socket.socket:
        host, port = address
        limit = timeout if isinstance(timeout, (int, float)) else None
        if deadline is not None:
            left = max(0.0, deadline.seconds - deadline.elapsed())
            limit = left if limit is None else min(limit, left)
        error: OSError | None = None
        for numeric in _resolve(host, port, limit):
            try:
                sock = create((numeric, port), timeout, source_address, **kwargs)
            except OSError as exc:
                error = exc
                continue
            if deadline is not None:
                deadline.watch(sock)
            return sock
        raise error or OSError(f"no address for {host!r}")

    return create_connection


def _resolve(host: str, port: int, limit: float | None) -> list[str]:
    """The addresses of ``host`` (numeric strings, in getaddrinfo's order); raises
    ResolveTimeout after ``limit`` seconds, socket.gaierror as getaddrinfo does."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return [host]  # already numeric: nothing to look up
    except OSError:
        pass
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(limit):
        raise ResolveTimeout(host, limit or 0.0)
    if "error" in outcome:
        raise outcome["error"]
    return list(dict.fromkeys(str(info[4][0]) for info in outcome["infos"]))


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float, deadline: Deadline | None) -> None:
        super().__init__()
        self._factory = functools.partial(_TimedHTTPConnection, read_timeout=read_timeout,
                                          deadline=deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._factory, req)  # type: ignore[arg-type]


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float, deadline: Deadline | None) -> None:
        super().__init__()
        self._factory = functools.partial(_TimedHTTPSConnection, read_timeout=read_timeout,
                                          deadline=deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._factory, req,  # type: ignore[arg-type]
                            context=self._context)  # type: ignore[attr-defined]


def build_opener(read_timeout: float,
                 deadline: Deadline | None = None) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections use ``read_timeout`` and obey ``deadline``.

    One opener per attempt, so redirected requests stay under the same deadline.
    """
    return urllib.request.build_opener(_HTTPHandler(read_timeout, deadline),
                                       _HTTPSHandler(read_timeout, deadline))
