#!/usr/bin/env python3
"""The main job end to end on the sample repository (``make demo``).

Serves the sample repository over HTTP on 127.0.0.1, as a mirror laid out like
openEuler's server, and runs sdfgen's commands against it on both arches, printing
each command before its output. Exits non-zero as soon as a step fails.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDFGEN = Path(sys.executable).parent / "sdfgen"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start an HTTP server on a free 127.0.0.1 port; returns it and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def step(*args: str) -> None:
    """Run one sdfgen command, echoing it; stop the demo if it fails."""
    print(f"\n$ sdfgen {shlex.join(args)}", flush=True)
    result = subprocess.run([str(SDFGEN), *args], check=False)
    if result.returncode != 0:
        sys.exit(f"demo: 'sdfgen {shlex.join(args)}' failed with exit code {result.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo-root", type=Path, default=ROOT / "build" / "sample-repo")
    parser.add_argument("--release", default="24.03-LTS")
    args = parser.parse_args()
    if not (args.repo_root / f"openEuler-{args.release}").is_dir():
        sys.exit(f"demo: {args.repo_root}: no sample repository; run 'make sample-repo'")
    server, mirror = serve(args.repo_root)
    try:
        with tempfile.TemporaryDirectory(prefix="sdfgen-demo-") as cache:
            common = ["--mirror", mirror, "--release", args.release, "--cache-dir", cache]
            arches = ["--arch", "x86_64", "--arch", "aarch64"]
            print(f"sample repository served at {mirror}")
            step("inspect", "openssl-libs", *common, *arches)
            step("inspect", "openssl", *common, "--arch", "aarch64")
    finally:
        server.shutdown()
    print("\ndemo: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
