"""Time ``sdfgen propose`` on the sample repository, served over HTTP on 127.0.0.1.

    .venv/bin/python benchmarks/propose.py [--repeat N]

Prints, with a warm cache (metadata and RPMs downloaded by a first run, not timed):
- ``propose openssl-libs`` for x86_64 and aarch64 in-process (best of N; a fresh session
  each run, the role model already loaded) and as a new process (``python -m sdfgen``
  equivalent: interpreter start, imports, model load included);
- ``propose --all`` as one process, and split over two concurrent processes (half the
  packages each), which is what a 2-worker process pool would at best achieve.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPO = ROOT / "build" / "sample-repo"
CLI = [sys.executable, "-m", "sdfgen.cli.app"]
# The release `make sample-repo` builds, and sdfgen's default.
RELEASE = "24.03-LTS"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A real HTTP server on 127.0.0.1 for ``directory``; (server, URL)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def require_sample_repo() -> None:
    """Exit with a one-line message when build/sample-repo has not been built."""
    if not (SAMPLE_REPO / f"openEuler-{RELEASE}" / "OS" / "x86_64" / "repodata").is_dir():
        sys.exit(f"error: no sample repository at {SAMPLE_REPO}: run make sample-repo")


def timings(repeat: int, run: Callable[[], object]) -> list[float]:
    """The wall time of each of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    return min(timings(repeat, run))


def run_quiet(argv: list[str]) -> None:
    """``argv`` in a new process, its output discarded; raises when it fails."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_cli(args: list[str]) -> None:
    """``sdfgen ARGS`` in a new process; raises when it fails."""
    run_quiet([*CLI, *args])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    require_sample_repo()
    from sdfgen.cli import app as cli
    server, url = serve(SAMPLE_REPO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = ["--mirror", url, "--cache-dir", str(Path(tmp) / "cache")]
            one = ["propose", "openssl-libs", "--arch", "x86_64", "--arch", "aarch64",
                   "-o", str(Path(tmp) / "openssl-libs.yaml"), *base]
            every = ["propose", "--all", "-o", str(Path(tmp) / "all"), *base]
            assert cli.main(every) == 0  # warm: downloads every RPM once, loads the model
            inproc = best_of(args.repeat, lambda: cli.main(one))
            newproc = best_of(args.repeat, lambda: run_cli(one))
            print(f"propose openssl-libs (x86_64+aarch64, warm cache), in-process: "
                  f"{inproc:.3f} s (best of {args.repeat})")
            print(f"propose openssl-libs (x86_64+aarch64, warm cache), new process: "
                  f"{newproc:.3f} s (best of {args.repeat})")
            repeat_all = max(1, args.repeat // 2)
            all_inproc = best_of(repeat_all, lambda: cli.main(every))
            all_proc = best_of(repeat_all, lambda: run_cli(every))
            names = sorted(p.stem for p in (Path(tmp) / "all").glob("*.yaml"))
            halves = [names[0::2], names[1::2]]

            def split() -> None:
                procs = [subprocess.Popen([*CLI, "propose", *half, "-o",
                                           str(Path(tmp) / "split") + "/", *base],
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL) for half in halves]
                for proc in procs:
                    if proc.wait() != 0:
                        raise RuntimeError("split propose failed")

            all_split = best_of(repeat_all, split)
            print(f"propose --all ({len(names)} packages, warm cache), in-process: "
                  f"{all_inproc:.3f} s")
            print(f"propose --all, one new process: {all_proc:.3f} s")
            print(f"propose --all split over 2 concurrent processes: {all_split:.3f} s")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
