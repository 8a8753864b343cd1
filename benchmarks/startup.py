"""Time the start-up of ``sdfgen`` and ``builder``, each run a new process.

    .venv/bin/python benchmarks/startup.py [--runs N]

Prints the best and the median wall time of N runs (default 10) of: ``python -c pass``
(the floor), ``sdfgen --help``, ``sdfgen version``, ``builder --help``, and ``sdfgen propose
openssl-libs`` for x86_64 and aarch64 with a warm cache (a first, untimed run downloads the
metadata and RPMs from the sample repository, served over HTTP on 127.0.0.1). The commands
run as ``python -m sdfgen.cli.app`` / ``python -m builder.cli``, what the console scripts
do. On a busy machine the best is the figure to compare; the median shows the noise.
propose writes to stdout (``-o -``), which is discarded.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
from pathlib import Path

from propose import CLI, SAMPLE_REPO, require_sample_repo, run_quiet, serve, timings

BUILDER = [sys.executable, "-m", "builder.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    args = parser.parse_args()
    require_sample_repo()
    server, url = serve(SAMPLE_REPO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            propose = [*CLI, "propose", "openssl-libs", "-o", "-", "--mirror", url,
                       "--cache-dir", str(Path(tmp) / "cache")]
            run_quiet(propose)  # warm the cache
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "sdfgen --help": [*CLI, "--help"],
                "sdfgen version": [*CLI, "version"],
                "builder --help": [*BUILDER, "--help"],
                "sdfgen propose openssl-libs (2 arches, warm)": propose,
            }
            print(f"{'new process, ' + str(args.runs) + ' runs':<46} {'best':>8} {'median':>8}")
            for label, argv in commands.items():
                times = timings(args.runs, functools.partial(run_quiet, argv))
                print(f"{label:<46} {min(times):7.3f}s {statistics.median(times):7.3f}s")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
