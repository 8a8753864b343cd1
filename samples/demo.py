#!/usr/bin/env python3
"""The main job end to end on the sample repository (``make demo``).

Serves the sample repository over HTTP on 127.0.0.1, as a mirror laid out like
openEuler's server, and on both arches: inspects a package, checks the hand-written
SDFs of samples/sdf and builds and smoke-runs the sample images from them, then
proposes SDFs for every package, checks them, runs the probe suite on them (every
program in an image of only the proposed slice that holds it, fixing what traces find
missing), and builds and smoke-runs the images of samples/distrofiles/proposed from the
proposals (chroot and QEMU system mode).
Prints each command before its output; exits non-zero as soon as a step fails.
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
BIN = Path(sys.executable).parent
IMAGES = ("static", "base", "cc", "openssl", "python")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start an HTTP server on a free 127.0.0.1 port; returns it and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def step(tool: str, *args: str) -> None:
    """Run one sdfgen/builder command, echoing it; stop the demo if it fails."""
    line = f"{tool} {shlex.join(args)}"
    print(f"\n$ {line}", flush=True)
    result = subprocess.run([str(BIN / tool), *args], check=False)
    if result.returncode != 0:
        sys.exit(f"demo: '{line}' failed with exit code {result.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo-root", type=Path, default=ROOT / "build" / "sample-repo")
    parser.add_argument("--release", default="24.03-LTS")
    parser.add_argument("--images", nargs="*", default=list(IMAGES),
                        help="sample images to build and smoke-run (default: all)")
    args = parser.parse_args()
    if not (args.repo_root / f"openEuler-{args.release}").is_dir():
        sys.exit(f"demo: {args.repo_root}: no sample repository; run 'make sample-repo'")
    server, mirror = serve(args.repo_root)
    try:
        with tempfile.TemporaryDirectory(prefix="sdfgen-demo-") as cache:
            common = ["--mirror", mirror, "--release", args.release, "--cache-dir", cache]
            arches = ["--arch", "x86_64", "--arch", "aarch64"]
            print(f"sample repository served at {mirror}")
            step("sdfgen", "inspect", "openssl-libs", *common, *arches)
            # The hand-written SDFs of the sample repository must be clean.
            step("sdfgen", "check", str(ROOT / "samples" / "sdf"), *common, *arches)
            for image in args.images:
                out = ROOT / "build" / "images" / image
                step("builder", "build", str(ROOT / "samples" / "distrofiles" / f"{image}.yaml"),
                     "--sdf-dir", str(ROOT / "samples" / "sdf"), "-o", str(out), *common)
                step("builder", "smoke", str(out), "--mode", "both")
            # The main job: propose SDFs for the whole repository, check them, and prove
            # them by building the images from the proposals and smoke-running them.
            proposed = ROOT / "build" / "proposed-sdf"
            step("sdfgen", "propose", "--all", *common, *arches, "-o", str(proposed))
            step("sdfgen", "check", str(proposed), *common, *arches)
            # The probe suite: every program in an image of only the proposed slice that
            # holds it, on both arches; what a trace finds missing is written into the
            # proposals (--fix), which must stay clean.
            step("builder", "probe", "--sdf-dir", str(proposed), "--fix", "-q", *common)
            step("sdfgen", "check", str(proposed), *common, *arches)
            for image in args.images:
                distrofile = ROOT / "samples" / "distrofiles" / "proposed" / f"{image}.yaml"
                if not distrofile.is_file():
                    continue
                out = ROOT / "build" / "images" / f"proposed-{image}"
                step("builder", "build", str(distrofile), "--sdf-dir", str(proposed),
                     "-o", str(out), *common)
                step("builder", "smoke", str(out), "--mode", "both")
    finally:
        server.shutdown()
    print("\ndemo: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
