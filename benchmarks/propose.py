"""Time ``sdfgen propose`` on the sample repository, served over HTTP on 127.0.0.1.

    .venv/bin/python benchmarks/propose.py [--repeat N]

Every figure is a NEW process (interpreter start, imports, model load included), the
median and best of N runs, with its peak RSS:
- ``propose openssl-libs`` for x86_64 and aarch64: cold (empty cache directory:
  metadata, index, RPM downloads and reads), with the RPMs cached but no package facts
  (every RPM read again), and warm (facts cached); without ``--sdf-dir`` (the providers'
  slices are sdfgen's own slicing, so glibc is read in full) and with samples/sdf
  (providers read lazily: only the ELF objects named like the sonames);
- ``propose --all`` warm, as one process, and split over two concurrent processes (half
  the packages each), which is what a 2-worker process pool would at best achieve.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
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


def process_runs(repeat: int, argv: list[str],
                 prepare: Callable[[], object] = lambda: None) -> tuple[list[float], int]:
    """``argv`` run ``repeat`` times as new processes, ``prepare()`` (untimed) before each:
    (wall times in seconds, the largest peak RSS in KiB)."""
    times, peak = [], 0
    for _ in range(repeat):
        prepare()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed with {proc.returncode}")
        peak = max(peak, usage.ru_maxrss)
    return times, peak


def report(label: str, runs: tuple[list[float], int]) -> None:
    """One line: median, best, peak RSS."""
    times, peak = runs
    print(f"{label}: median {statistics.median(times):.3f} s, best {min(times):.3f} s, "
          f"peak RSS {peak / 1024:.0f} MiB ({len(times)} runs)")


def run_quiet(argv: list[str]) -> None:
    """``argv`` in a new process, its output discarded; raises when it fails."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    require_sample_repo()
    server, url = serve(SAMPLE_REPO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            base = ["--mirror", url, "--cache-dir", str(cache)]
            arches = ["--arch", "x86_64", "--arch", "aarch64"]
            one = [*CLI, "propose", "openssl-libs", *arches,
                   "-o", str(Path(tmp) / "openssl-libs.yaml"), *base]
            # --no-update: a proposal of its own, samples/sdf only answers deps.
            with_sdfs = [*CLI, "propose", "openssl-libs", *arches, "--no-update",
                         "--sdf-dir", str(ROOT / "samples" / "sdf"),
                         "-o", str(Path(tmp) / "with-sdfs.yaml"), *base]
            every = [*CLI, "propose", "--all", "-o", str(Path(tmp) / "all"), *base]

            def no_cache() -> None:
                shutil.rmtree(cache, ignore_errors=True)

            def no_facts() -> None:
                shutil.rmtree(cache / "facts", ignore_errors=True)

            for label, argv in (("", one), (" --sdf-dir samples/sdf", with_sdfs)):
                name = f"propose openssl-libs (x86_64+aarch64){label}"
                report(f"{name}, cold", process_runs(args.repeat, argv, no_cache))
                report(f"{name}, RPMs cached, no facts",
                       process_runs(args.repeat, argv, no_facts))
                report(f"{name}, warm", process_runs(args.repeat, argv))
            run_quiet(every)  # downloads every RPM and keeps its facts
            repeat_all = max(1, args.repeat // 2)
            report("propose --all, RPMs cached, no facts",
                   process_runs(repeat_all, every, no_facts))
            report("propose --all, warm", process_runs(repeat_all, every))
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
            print(f"propose --all ({len(names)} packages) split over 2 concurrent processes, "
                  f"warm: best {all_split:.3f} s")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
