"""Benchmark: cutting slices out of RPMs, the builder's way against splitter's.

For the slices of some sample Distrofiles (default: python and cc), per arch:

- builder:  ``builder.extract.cut_package``: one streaming pass per RPM, only the
  selected entries written;
- splitter: what openEuler's splitter does: ``rpm2cpio | cpio -t`` to list each
  package, then ``rpm2cpio | cpio -idm`` once per slice with the files it selects
  (so a package's payload is decompressed 1 + #slices times);
- decompress-once: read each payload once through the same decompressor and
  discard it: the floor any extractor in Python pays;
- dec+write: decompress once and write the selected regular files, naively (no
  path checks, modes, owners, links): the floor of a one-pass extractor.

Prints the times (best of --repeat) and the ratios; targets: builder >= 5x faster
than splitter, <= 1.2x the single decompression.
Run: .venv/bin/python benchmarks/cut.py [--repo-root build/sample-repo]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.closure import resolve_closure  # noqa: E402
from builder.distrofile import load_distrofile  # noqa: E402
from builder.extract import SliceSelection, cut_package  # noqa: E402
from builder.rootwriter import RootWriter  # noqa: E402
from sdfgen.cpio import iter_entries  # noqa: E402
from sdfgen.globs import matches  # noqa: E402
from sdfgen.rpmreader import decompressed_payload, read_rpm  # noqa: E402
from sdfgen.sdf import SliceRef, load_sdf_dir, patterns_for  # noqa: E402
from sdfgen.session import RepoOptions, open_session  # noqa: E402

Job = tuple[Path, list[SliceSelection]]


def jobs_for(distrofiles: list[Path], sdf_dir: Path, repo: Path, arch: str) -> list[Job]:
    """(RPM path, slice selections) for every package the Distrofiles' closures use."""
    sdfs = load_sdf_dir(sdf_dir)
    wanted: dict[str, set[str]] = {}
    for path in distrofiles:
        spec = load_distrofile(path)
        for ref in resolve_closure(spec.parts, sdfs, source=path).slices:
            wanted.setdefault(ref.package, set()).add(ref.slice)
    jobs = []
    options = RepoOptions(repos=(str(repo),), arches=(arch,))
    with open_session(options) as session:
        for package in sorted(wanted):
            sdf = sdfs[package]
            selections = [SliceSelection(SliceRef(package, name), patterns_for(s, arch),
                                         f"{package}.yaml")
                          for name, s in sdf.slices.items() if name in wanted[package]]
            selections = [s for s in selections if s.rules]
            if selections:
                repository = session.repository(arch)
                jobs.append((repository.download(repository.latest(package)), selections))
    return jobs


def run_builder(jobs: list[Job], work: Path, arch: str) -> None:
    writer = RootWriter(work / "rootfs")
    for rpm, selections in jobs:
        cut_package(rpm, selections, writer, arch=arch)
    writer.finish()


def run_splitter(jobs: list[Job], work: Path, arch: str) -> None:
    out = work / "rootfs"
    out.mkdir()
    for rpm, selections in jobs:
        listing = subprocess.run(f"rpm2cpio '{rpm}' | cpio -t --quiet", shell=True, check=True,
                                 capture_output=True, text=True).stdout.split()
        for selection in selections:
            names = [name for name in listing
                     if any(matches(rule.pattern, name.removeprefix("."))
                            for rule in selection.rules)]
            if not names:
                continue
            patterns = work / "patterns"
            patterns.write_text("\n".join(names) + "\n")
            subprocess.run(f"rpm2cpio '{rpm}' | cpio -idm --quiet -E '{patterns}'", shell=True,
                           check=True, cwd=out, capture_output=True)


def run_decompress(jobs: list[Job], work: Path, arch: str) -> None:
    for rpm, _ in jobs:
        with decompressed_payload(rpm) as (_, stream):
            while stream.read(1 << 20):
                pass


def run_floor(jobs: list[Job], work: Path, arch: str) -> None:
    """Decompress once and write the selected regular files naively (no checks, no
    metadata, the selection computed beforehand): what any one-pass extractor pays."""
    root = work / "rootfs"
    for rpm, selections in jobs:
        wanted = _selected(rpm, selections)
        with decompressed_payload(rpm) as (_, stream):
            for entry, data in iter_entries(stream):
                name = entry.name.removeprefix(".")
                if name in wanted and entry.size:
                    target = root / name.lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as out:
                        shutil.copyfileobj(data, out, 1 << 20)


_SELECTED: dict[Path, set[str]] = {}


def _selected(rpm: Path, selections: list[SliceSelection]) -> set[str]:
    if rpm not in _SELECTED:
        names = [f.path for f in read_rpm(rpm, elf=False).files]
        _SELECTED[rpm] = {n for n in names for s in selections for rule in s.rules
                          if matches(rule.pattern, n)}
    return _SELECTED[rpm]


def best_of(repeat: int, run: Callable[[list[Job], Path, str], None], jobs: list[Job],
            arch: str) -> float:
    times = []
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="cut-bench-"))
        try:
            started = time.perf_counter()
            run(jobs, work, arch)
            times.append(time.perf_counter() - started)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo-root", type=Path, default=ROOT / "build" / "sample-repo")
    parser.add_argument("--release", default="24.03-LTS")
    parser.add_argument("--distrofile", type=Path, action="append",
                        help="default: samples/distrofiles/{python,cc}.yaml")
    parser.add_argument("--sdf-dir", type=Path, default=ROOT / "samples" / "sdf")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    distrofiles = args.distrofile or [ROOT / "samples" / "distrofiles" / f"{n}.yaml"
                                      for n in ("python", "cc")]
    print(f"slices of {', '.join(p.name for p in distrofiles)}; best of {args.repeat}")
    print(f"{'arch':<8} {'rpms':>4} {'slices':>6} {'builder':>9} {'splitter':>9} "
          f"{'decomp.1x':>9} {'dec+write':>9} {'split/bld':>9} {'bld/dec':>8} "
          f"{'bld/d+w':>8}")
    for arch in ("x86_64", "aarch64"):
        repo = args.repo_root / f"openEuler-{args.release}" / "OS" / arch
        jobs = jobs_for(distrofiles, args.sdf_dir, repo, arch)
        slices = sum(len(selections) for _, selections in jobs)
        builder = best_of(args.repeat, run_builder, jobs, arch)
        splitter = best_of(args.repeat, run_splitter, jobs, arch)
        once = best_of(args.repeat, run_decompress, jobs, arch)
        for job in jobs:
            _selected(*job)  # the floor's selection is computed outside its timing
        floor = best_of(args.repeat, run_floor, jobs, arch)
        print(f"{arch:<8} {len(jobs):>4} {slices:>6} {builder:>8.3f}s {splitter:>8.3f}s "
              f"{once:>8.3f}s {floor:>8.3f}s {splitter / builder:>8.1f}x "
              f"{builder / once:>7.2f}x {builder / floor:>8.2f}x")
    print("targets: split/bld >= 5x, bld/dec <= 1.2x (dec+write: decompress once and write "
          "the selected files, no checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
