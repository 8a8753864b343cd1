"""Benchmark: cutting slices out of RPMs, the builder's way against splitter's.

Two sets of slices, per arch:

- hand-written: the slices of some sample Distrofiles (default: python and cc) with
  the SDFs of samples/sdf, from the OS repository;
- proposed: the images of samples/distrofiles/proposed/*.yaml with the SDFs that
  ``sdfgen propose --all`` writes for the sample repository (OS + update), where
  packages have many slices (glibc, tzdata, python3), so splitter's per-slice
  decompressions show.

Each set is cut by four methods:

- builder:  ``builder.extract.cut_package``: one streaming pass per RPM, only the
  selected entries written;
- splitter: what openEuler's splitter does: ``rpm2cpio | cpio -t`` to list each
  package, then ``rpm2cpio | cpio -idm`` once per slice with the files it selects
  (so a package's payload is decompressed 1 + #slices times);
- decompress-once: read each payload once through the same decompressor and
  discard it: the floor any extractor in Python pays;
- dec+write: decompress once and write the selected regular files, naively (no
  path checks, modes, owners, links): the floor of a one-pass extractor.

Each set is measured in every --work-dir (default: the temporary directory, on disk,
and /dev/shm, a tmpfs): on disk the kernel's cost of creating files dominates every
extractor; on tmpfs what is left is the extractor's own CPU time.
Prints every table (best of --repeat) and the ratios; targets: builder >= 5x faster
than splitter, <= 1.2x the single decompression.
Run: .venv/bin/python benchmarks/cut.py [--repo-root build/sample-repo] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
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
from sdfgen.rpm.cpio import iter_entries  # noqa: E402
from sdfgen.rpm.payload import decompressed_payload  # noqa: E402
from sdfgen.rpm.reader import read_rpm  # noqa: E402
from sdfgen.rpm.session import RepoOptions, open_session  # noqa: E402
from sdfgen.sdf.globs import matches  # noqa: E402
from sdfgen.sdf.model import SliceRef, load_sdf_dir, patterns_for  # noqa: E402

Job = tuple[Path, list[SliceSelection]]


def jobs_for(distrofiles: list[Path], sdf_dir: Path, repos: list[Path], arch: str,
             *, every_slice: bool = False) -> list[Job]:
    """(RPM path, slice selections) for every package the Distrofiles' closures use.

    Only the slices of the closures, or with ``every_slice`` all slices of those packages.
    """
    sdfs = load_sdf_dir(sdf_dir)
    wanted: dict[str, set[str]] = {}
    for path in distrofiles:
        spec = load_distrofile(path)
        for ref in resolve_closure(spec.parts, sdfs, source=path).slices:
            wanted.setdefault(ref.package, set()).add(ref.slice)
    if every_slice:
        wanted = {package: set(sdfs[package].slices) for package in wanted}
    jobs = []
    options = RepoOptions(repos=tuple(str(repo) for repo in repos), arches=(arch,))
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


_SELECTED: dict[tuple[Path, tuple[str, ...]], set[str]] = {}


def _selected(rpm: Path, selections: list[SliceSelection]) -> set[str]:
    key = (rpm, tuple(str(s.ref) for s in selections))
    if key not in _SELECTED:
        names = [f.path for f in read_rpm(rpm, elf=False).files]
        _SELECTED[key] = {n for n in names for s in selections for rule in s.rules
                          if matches(rule.pattern, n)}
    return _SELECTED[key]


def best_of(repeat: int, run: Callable[[list[Job], Path, str], None], jobs: list[Job],
            arch: str, base: Path) -> float:
    times = []
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="cut-bench-", dir=base))
        # Start each run with nothing dirty: else the writeback of the previous run's
        # tree (and its removal) lands in this one's time.
        os.sync()
        try:
            started = time.perf_counter()
            run(jobs, work, arch)
            times.append(time.perf_counter() - started)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return min(times)


def propose_all(repo_root: Path, release: str, out: Path) -> list[Path]:
    """Run ``sdfgen propose --all`` on the sample OS and update repositories into ``out``."""
    sdfgen = Path(sys.executable).parent / "sdfgen"
    base = repo_root / f"openEuler-{release}"
    command = [str(sdfgen), "propose", "--all", "-o", str(out)]
    for repo in repo_roots(base):
        command += ["--repo", str(repo.parent / "$basearch")]
    subprocess.run(command, check=True, capture_output=True)
    return sorted(out.glob("*.yaml"))


def repo_roots(base: Path, arch: str = "x86_64") -> list[Path]:
    """The OS repository of ``base`` and its update repository when there is one."""
    return [base / name / arch for name in ("OS", "update") if (base / name / arch).is_dir()]


def fs_type(path: Path) -> str:
    """The file system type ``path`` lives on (longest mount point of /proc/mounts)."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1]
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best, kind = point, fields[2]
    return kind


HEADER = (f"{'arch':<8} {'rpms':>4} {'slices':>6} {'builder':>9} {'splitter':>9} "
          f"{'decomp.1x':>9} {'dec+write':>9} {'split/bld':>9} {'bld/dec':>8} {'bld/d+w':>8}")


def table(title: str, sets: dict[str, list[Job]], repeat: int, base: Path) -> list[str]:
    """Measure every method on each arch's jobs in ``base``; return the lines of a table."""
    lines = [f"== {title}; work dir {base} ({fs_type(base)}); best of {repeat}", HEADER]
    verdicts = []
    for arch, jobs in sets.items():
        slices = sum(len(selections) for _, selections in jobs)
        builder = best_of(repeat, run_builder, jobs, arch, base)
        splitter = best_of(repeat, run_splitter, jobs, arch, base)
        once = best_of(repeat, run_decompress, jobs, arch, base)
        for job in jobs:
            _selected(*job)  # the floor's selection is computed outside its timing
        floor = best_of(repeat, run_floor, jobs, arch, base)
        lines.append(f"{arch:<8} {len(jobs):>4} {slices:>6} {builder:>8.3f}s {splitter:>8.3f}s "
                     f"{once:>8.3f}s {floor:>8.3f}s {splitter / builder:>8.1f}x "
                     f"{builder / once:>7.2f}x {builder / floor:>7.2f}x")
        verdicts.append(f"{arch}: split/bld {splitter / builder:.1f}x "
                        f"({'met' if splitter / builder >= 5 else 'NOT met'}), "
                        f"bld/dec {builder / once:.2f}x "
                        f"({'met' if builder / once <= 1.2 else 'NOT met'})")
    lines.append("targets (split/bld >= 5x, bld/dec <= 1.2x): " + "; ".join(verdicts))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo-root", type=Path, default=ROOT / "build" / "sample-repo")
    parser.add_argument("--release", default="24.03-LTS")
    parser.add_argument("--distrofile", type=Path, action="append",
                        help="default: samples/distrofiles/{python,cc}.yaml")
    parser.add_argument("--sdf-dir", type=Path, default=ROOT / "samples" / "sdf")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, action="append",
                        help="where the rootfs trees are written (repeatable; default: "
                             "the temporary directory and /dev/shm)")
    args = parser.parse_args()
    distrofiles = args.distrofile or [ROOT / "samples" / "distrofiles" / f"{n}.yaml"
                                      for n in ("python", "cc")]
    proposed_images = sorted((ROOT / "samples" / "distrofiles" / "proposed").glob("*.yaml"))
    work_dirs = args.work_dir or [Path(tempfile.gettempdir())] + \
        [p for p in (Path("/dev/shm"),) if p.is_dir() and os.access(p, os.W_OK)]
    base = args.repo_root / f"openEuler-{args.release}"
    arches = ("x86_64", "aarch64")
    with tempfile.TemporaryDirectory(prefix="cut-bench-sdf-") as tmp:
        proposed_dir = Path(tmp)
        propose_all(args.repo_root, args.release, proposed_dir)
        sets = {
            f"hand-written SDFs ({args.sdf_dir.name}): slices of "
            f"{', '.join(p.name for p in distrofiles)}, OS repository":
                {arch: jobs_for(distrofiles, args.sdf_dir, [base / "OS" / arch], arch)
                 for arch in arches},
            "SDFs of 'sdfgen propose --all' (OS + update repositories): slices of proposed/"
            f"{', '.join(p.name for p in proposed_images)}":
                {arch: jobs_for(proposed_images, proposed_dir, repo_roots(base, arch), arch)
                 for arch in arches},
            "SDFs of 'sdfgen propose --all' (OS + update repositories): EVERY slice of the "
            "packages those proposed images use":
                {arch: jobs_for(proposed_images, proposed_dir, repo_roots(base, arch), arch,
                                every_slice=True)
                 for arch in arches},
        }
        for title, per_arch in sets.items():
            for work in work_dirs:
                print("\n".join(table(title, per_arch, args.repeat, work)), flush=True)
                print()
        print("columns: builder = builder.extract.cut_package (one pass, checks, metadata); "
              "splitter = rpm2cpio|cpio -t, then rpm2cpio|cpio -idm per slice; decomp.1x = "
              "decompress each payload once, discard; dec+write = decompress once and write "
              "the selected regular files naively (no checks, no metadata)")
        for title, per_arch in sets.items():
            many = sorted(((len(sel), Path(rpm).name.rsplit("-", 2)[0])
                           for rpm, sel in per_arch["x86_64"]), reverse=True)[:5]
            print(f"slices per package, most ({title}): "
                  + ", ".join(f"{name} {n}" for n, name in many))
    return 0


if __name__ == "__main__":
    sys.exit(main())
