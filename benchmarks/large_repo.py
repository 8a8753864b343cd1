"""Cost of ``sdfgen propose --all`` on a few hundred real packages, scaled to a whole release.

    .venv/bin/python benchmarks/large_repo.py [--count 300] [--jobs 2] [--cprofile]

Chooses at least --count Debian bookworm binary packages by a fixed rule and repackages
them for x86_64 and aarch64 with the sample repository's own tooling into
build/bench-large-repo/repo (benchmarks/_large_repo_build.py; about 11 minutes on 2 cores
the first time, cached after). Serves that over HTTP on 127.0.0.1 and runs ``python -m
sdfgen.cli.app propose --all`` as a new process: cold (empty cache dir), then warm (the
same cache again), printing wall time and peak RSS of each, and ``propose`` of one package
on the warm cache (the fixed cost). Then the split between download, decompression, ELF
analysis and the rest, from a second cold/warm pair run with timers around those
functions (exclusive time, about a microsecond per call: the wall time barely moves), and
an extrapolation to 4,000 packages. ``--cprofile`` adds a cold/warm pair under cProfile,
whose per-call overhead inflates the many small calls of ELF parsing, with its top
functions. Logs, JSON splits and profiles go to build/bench-large-repo/runs/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _large_repo_build import REPO, WORK, SampleRepoError, build_repo, repo_sizes  # noqa: E402
from propose import serve  # noqa: E402

RUNS = WORK / "runs"
CLI = [sys.executable, "-m", "sdfgen.cli.app"]
RELEASE_PACKAGES = 4000
MIB = 1 << 20


def sdfgen_state() -> str:
    """Which sdfgen is measured: the commit, and a digest of its source as it is now."""
    head = subprocess.run(["git", "--no-optional-locks", "rev-parse", "--short", "HEAD"],
                          cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    digest = hashlib.sha256()
    for path in sorted((ROOT / "sdfgen").rglob("*.py")):
        digest.update(path.read_bytes())
    return f"commit {head or '?'}, sdfgen/**/*.py sha256 {digest.hexdigest()[:12]} (as in " \
        "the working tree)"


# --- running sdfgen --------------------------------------------------------------------

# Peak RSS comes from a small launcher: a child forked straight from this process would
# count this process's memory (the parsed apt lists) in its ru_maxrss.
_LAUNCHER = ("import os, subprocess, sys; proc = subprocess.Popen(sys.argv[2:]); "
             "_, status, usage = os.wait4(proc.pid, 0); "
             "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
             "sys.exit(os.waitstatus_to_exitcode(status))")


def run_process(argv: list[str], log: Path) -> tuple[float, float, int]:
    """Run ``argv`` (output to ``log``); (wall seconds, peak RSS in MiB, exit status)."""
    rss_file = log.with_suffix(".rss")
    rss_file.unlink(missing_ok=True)
    with log.open("wb") as out:
        start = time.perf_counter()
        status = subprocess.run([sys.executable, "-c", _LAUNCHER, str(rss_file), *argv],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                check=False).returncode
        wall = time.perf_counter() - start
    rss = int(rss_file.read_text()) / 1024 if rss_file.is_file() else float("nan")
    return wall, rss, status


# Timed functions: category -> (module, attribute path). Time is exclusive: a download
# inside metadata indexing counts as download. A name the code no longer has is skipped.
TIMED = {
    "download": [("sdfgen.repo.fetch", "Fetcher.fetch_verified"),
                 ("sdfgen.repo.fetch", "Fetcher.read_bytes")],
    "metadata index": [("sdfgen.repo.index", "_open_index")],
    "decompression": [("sdfgen.rpm.payload", "_GuardedReader.readinto")],
    "payload read+digest": [("sdfgen.rpm.payload", "PayloadDigest.readinto")],
    "RPM header": [("sdfgen.rpm.header", "read_headers")],
    "ELF analysis": [("sdfgen.rpm.elf", "read_elf")],
    "role model": [("sdfgen.roles.model", "load_model"), ("sdfgen.roles.model", "classify")],
    "SDF placement (globs)": [("sdfgen.slicing.placement", "place")],
    "facts cache": [("sdfgen.rpm.factcache", "FactCache.load"),
                    ("sdfgen.rpm.factcache", "FactCache.load_lazy"),
                    ("sdfgen.rpm.factcache", "FactCache.store")],
}


def split_child(out_json: str, argv: list[str]) -> int:
    """Run the CLI in this process with timers on TIMED; write the split to ``out_json``."""
    import importlib

    totals: dict[str, float] = {"rest": 0.0}
    counts = {"rpms read": 0, "files": 0, "file bytes": 0, "ELF files": 0}
    stack = ["rest"]
    clock = [time.perf_counter()]

    def switch(category: str | None) -> None:
        now = time.perf_counter()
        totals[stack[-1]] = totals.get(stack[-1], 0.0) + now - clock[0]
        clock[0] = now
        if category is None:
            stack.pop()
        else:
            stack.append(category)

    def timed(category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            switch(category)
            try:
                result = func(*args, **kwargs)
            finally:
                switch(None)
            if func.__name__ == "read_elf" and result is not None:
                counts["ELF files"] += 1
            return result
        return wrapper

    def patch(module_name: str, path: str, make: Callable[[Any], Any]) -> bool:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return False
        *parents, attr = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        original = getattr(owner, attr, None)
        if original is None:
            return False
        wrapper = make(original)
        setattr(owner, attr, wrapper)
        if not parents:  # also where it was imported by name
            for module in list(sys.modules.values()):
                if getattr(module, "__name__", "").startswith("sdfgen.") and \
                        getattr(module, attr, None) is original:
                    setattr(module, attr, wrapper)
        return True

    def counting(read_rpm: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            package = read_rpm(*args, **kwargs)
            counts["rpms read"] += 1
            counts["files"] += len(package.files)
            counts["file bytes"] += sum(f.size for f in package.files if f.kind == "file")
            return package
        return wrapper

    def timer(category: str) -> Callable[[Any], Any]:
        return lambda func: timed(category, func)

    missing = [f"{m}.{p}" for category, targets in TIMED.items() for m, p in targets
               if not patch(m, p, timer(category))]
    patch("sdfgen.rpm.reader", "read_rpm", counting)
    from sdfgen.cli.app import main as cli_main

    clock[0] = start = time.perf_counter()
    try:
        status = cli_main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    switch(None)
    Path(out_json).write_text(json.dumps({"wall": time.perf_counter() - start,
                                          "split": totals, "counts": counts,
                                          "missing": missing}))
    return int(status or 0)


def profile_summary(prof: Path) -> tuple[float, list[str], list[str]]:
    """(total seconds, cumulative time of each TIMED function, top functions by own time)
    of a cProfile file. Cumulative times nest (decompression includes the payload read)."""
    import importlib
    import io
    import pstats

    table: dict[tuple[str, int, str], tuple[Any, ...]] = \
        pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    total = max(row[3] for row in table.values())
    timed = []
    for category, targets in TIMED.items():
        for module_name, path in targets:
            try:
                owner: Any = importlib.import_module(module_name)
                for part in path.split("."):
                    owner = getattr(owner, part)
                code = owner.__code__
            except (ImportError, AttributeError):
                continue
            key = (code.co_filename, code.co_firstlineno, code.co_name)
            seconds = table[key][3] if key in table else 0.0
            timed.append(f"{category:<20} {path:<36} {seconds:8.2f} s "
                         f"{100 * seconds / total:5.1f} %")
    text = io.StringIO()
    pstats.Stats(str(prof), stream=text).sort_stats("tottime").print_stats(12)
    lines = text.getvalue().splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return total, timed, [ln for ln in lines[header:] if ln.strip()]


# --- the measurements ------------------------------------------------------------------

def measure(url: str, label: str, mode: str, single: str) -> dict[str, Any]:
    """Cold then warm ``propose --all`` against ``url`` as new processes, in ``mode``
    (plain, split or cprofile); returns per run its wall, RSS, status and extras. In
    plain mode also "single": ``propose SINGLE`` on the warm cache, the fixed cost."""
    cache, out = RUNS / f"{label}-cache", RUNS / f"{label}-sdf"
    for stale in (cache, out):
        shutil.rmtree(stale, ignore_errors=True)
    common = ["--mirror", url, "--cache-dir", str(cache)]
    args = ["propose", "--all", "-o", str(out), *common]
    results: dict[str, Any] = {}
    for run in ("cold", "warm"):
        extra = RUNS / f"{label}-{run}.{'prof' if mode == 'cprofile' else 'json'}"
        argv = {"plain": [*CLI, *args],
                "split": [sys.executable, __file__, "--split-child", str(extra), *args],
                "cprofile": [sys.executable, "-m", "cProfile", "-o", str(extra),
                             "-m", "sdfgen.cli.app", *args]}[mode]
        log = RUNS / f"{label}-{run}.log"
        wall, rss, status = run_process(argv, log)
        result = {"wall": wall, "rss": rss, "status": status, "log": log,
                  "sdfs": len(list(out.glob("*.yaml")))}
        if mode == "split" and extra.is_file():
            result.update(json.loads(extra.read_text()), **{"process wall": wall})
        if mode == "cprofile" and extra.is_file():
            result["profile"] = profile_summary(extra)
        results[run] = result
    if mode == "plain":
        argv = [*CLI, "propose", single, "-o", str(RUNS / "single.yaml"), *common]
        wall, rss, status = run_process(argv, RUNS / "single.log")
        results["single"] = {"wall": wall, "rss": rss, "status": status}
    shutil.rmtree(cache, ignore_errors=True)
    return results


def _report_run(name: str, run: dict[str, Any], packages: int) -> None:
    print(f"  {name}: wall {run['wall']:7.1f} s, peak RSS {run['rss']:6.0f} MiB, "
          f"exit {run['status']}, {run['sdfs']}/{packages} SDFs written")
    if run["status"] != 0:
        tail = run["log"].read_text(errors="replace").strip().splitlines()[-5:]
        print("    " + "\n    ".join(tail) + f"\n    (log: {run['log']})")


def _report_split(name: str, run: dict[str, Any]) -> None:
    wall = run["wall"]
    split = run.get("split", {})
    process = run["process wall"]
    print(f"  {name}: process {process:.1f} s = start-up and imports "
          f"{process - wall:.1f} s + command {wall:.1f} s, of which:")
    for category, seconds in sorted(split.items(), key=lambda kv: -kv[1]):
        print(f"    {category:<20} {seconds:8.2f} s {100 * seconds / wall:5.1f} %")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--split-child":
        return split_child(sys.argv[2], sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--count", type=int, default=300,
                        help="packages to choose at least (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel rpmbuild jobs")
    parser.add_argument("--no-split", action="store_true",
                        help="skip the timed (split) cold/warm pair")
    parser.add_argument("--cprofile", action="store_true",
                        help="add a cold/warm pair under cProfile")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    try:
        facts = build_repo(args.count, args.jobs)
    except SampleRepoError as exc:
        print(f"large_repo: error: {exc}", file=sys.stderr)
        return 1
    packages = len(facts["names"])
    sizes = repo_sizes()
    rpm_bytes = sum(size for _, size in sizes.values())
    print(f"repository {REPO}: {packages} packages "
          f"({'; '.join(f'{a}: {n} RPMs, {b / MIB:.1f} MiB' for a, (n, b) in sizes.items())}); "
          f"{facts['fresh']} RPMs built now, ready in {facts['seconds']:.0f} s")
    for name, why in sorted(facts["skipped"].items()):
        print(f"  left out {name}: {why}")
    for name, paths in sorted(facts["dropped"].items()):
        print(f"  {name}: left out {len(paths)} path(s) the spec generator cannot list: "
              f"{', '.join(paths[:3])}{' ...' if len(paths) > 3 else ''}")
    state = sdfgen_state()
    print(f"sdfgen: {state}")
    server, url = serve(REPO)
    try:
        plain = measure(url, "plain", "plain", facts["names"][0])
        split = {} if args.no_split else measure(url, "split", "split", "")
        profiled = measure(url, "cprofile", "cprofile", "") if args.cprofile else {}
    finally:
        server.shutdown()
        server.server_close()
    print(f"propose --all (x86_64+aarch64, {packages} packages, new process):")
    for run in ("cold", "warm"):
        _report_run(run, plain[run], packages)
    if split:
        counts = split["cold"].get("counts", {})
        print(f"read (cold): {counts.get('rpms read', '?')} RPMs, {counts.get('files', '?')} "
              f"payload entries ({counts.get('file bytes', 0) / MIB:.0f} MiB of regular "
              f"files), {counts.get('ELF files', '?')} ELF files parsed")
        print("split (exclusive time of the timed functions; one more cold/warm pair):")
        for run in ("cold", "warm"):
            _report_split(run, split[run])
            if split[run].get("missing"):
                print(f"    (not found, not timed: {', '.join(split[run]['missing'])})")
    for run in ("cold", "warm") if profiled else ():
        total, timed, top = profiled[run].get("profile", (0.0, [], []))
        print(f"cProfile {run}: {total:.1f} s profiled (process {profiled[run]['wall']:.1f} s; "
              f"unprofiled {plain[run]['wall']:.1f} s); cumulative, nested:")
        print("    " + "\n    ".join(timed))
        print("  top by own time:\n    " + "\n    ".join(top))
    single = plain["single"]
    gib = rpm_bytes / (1 << 30)
    print(f"fixed cost (propose {facts['names'][0]} alone, warm): {single['wall']:.1f} s, "
          f"peak RSS {single['rss']:.0f} MiB")
    print(f"extrapolation to {RELEASE_PACKAGES} packages (x86_64+aarch64): fixed cost + "
          f"per-package cost x {RELEASE_PACKAGES} (linear in package count, so at this "
          f"sample's mean of {rpm_bytes / (2 * packages) / MIB:.2f} MiB per RPM):")
    for run in ("cold", "warm", "peak RSS"):
        key, base = ("rss", single["rss"]) if run == "peak RSS" else ("wall", single["wall"])
        value = plain["cold" if key == "rss" else run][key]
        per_package = (value - base) / packages
        total = base + per_package * RELEASE_PACKAGES
        if key == "rss":
            print(f"  {run}: {total / 1024:.1f} GiB ({per_package * 1024:.0f} KiB per package "
                  f"above {base:.0f} MiB; cold run)")
        else:
            print(f"  {run}: {total / 60:.1f} min ({per_package * 1000:.0f} ms per package; "
                  f"linear in bytes instead: {(value - base) / gib:.0f} s per GiB of RPMs)")
    if sdfgen_state() != state:
        print("warning: sdfgen's source changed during the runs; the figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
