"""Shared fixtures: the project's real sample repository, served over HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPO = ROOT / "build" / "sample-repo"
RELEASE = "24.03-LTS"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def sample_repo_root() -> Path:
    """build/sample-repo, built with samples/mkrepo.py if it is not there yet."""
    if not (SAMPLE_REPO / f"openEuler-{RELEASE}" / "OS" / "x86_64" / "repodata").is_dir():
        subprocess.run(
            [sys.executable, str(ROOT / "samples" / "mkrepo.py"), "--out", str(SAMPLE_REPO),
             "--release", RELEASE],
            check=True,
        )
    return SAMPLE_REPO


@pytest.fixture(scope="session")
def sample_mirror(sample_repo_root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving the sample repository; yields its mirror URL."""
    handler = functools.partial(_QuietHandler, directory=str(sample_repo_root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
