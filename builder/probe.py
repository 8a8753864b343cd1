"""Probe the programs of proposed slices: each in an image of only its slice's closure.

``probe_sdfs`` finds, for the SDFs of a directory, every slice that holds a program (a
file or symlink in a bin directory, as the slice selects it on each arch), builds a
throwaway root filesystem per platform from only that slice's closure (plus the slices
that select the program's ``data``: files a user adds on purpose, such as a time zone),
and runs the program's probes (``sdfgen.sdf.probes``) chrooted in it, on linux/amd64 and
linux/arm64 (through binfmt_misc, as ``builder smoke`` runs). With ``trace`` each probe
runs under ``builder.trace``, so a path the program missed that a package ships comes
back with the slice that selects it; ``builder.probefix`` turns those into SDF edits.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.basefiles import add_base_files, base_entries
from builder.build import cut_arch  # the cut of `builder build`, without its OCI output
from builder.closure import resolve_closure
from builder.errors import BuildError
from builder.platform import Platform
from builder.rootwriter import RootWriter
from builder.smoke import DEFAULT_PATH, smoke
from builder.trace import PlatformTrace, repository_shippers, trace_image
from sdfgen.errors import PackageNotFoundError
from sdfgen.facts import FileKind
from sdfgen.sdf.model import Sdf, SliceRef, slice_of_path
from sdfgen.sdf.probes import Probe, ProbeCatalog, ProgramProbes

BIN_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/")
PROBE_ENV = (DEFAULT_PATH, "HOME=/root")
RUNTIME_DEVICES = (("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9))
Log = Callable[[str], None]


@dataclass(frozen=True)
class Program:
    """A program a slice holds, with the arches on which the slice selects it."""

    path: str
    slice: SliceRef
    arches: tuple[str, ...]


@dataclass(frozen=True)
class ProbeRun:
    """One probe of one program on one platform: passed or not, and why.

    ``command`` is what ran; ``trace`` the judged paths when it ran traced.
    """

    program: Program
    platform: Platform
    probe: Probe
    command: tuple[str, ...]
    passed: bool
    exit_code: int | None
    reason: str
    output: str
    seconds: float
    trace: PlatformTrace | None = None


@dataclass(frozen=True)
class SliceProbes:
    """The probe runs of one slice's programs, and the parts of the image they ran in."""

    slice: SliceRef
    parts: tuple[SliceRef, ...]
    image_slices: tuple[SliceRef, ...]
    runs: tuple[ProbeRun, ...]
    build_seconds: float
    data: tuple[SliceRef, ...] = ()  # the slices of the programs' data, among ``parts``


def find_programs(sdfs: Mapping[str, Sdf], packages: Sequence[str], session: Any,
                  arches: Sequence[str]) -> dict[SliceRef, list[Program]]:
    """The programs of ``packages``' slices: the files and symlinks in bin directories
    of each package's RPM, by the slice (of its SDF) that selects them on each arch."""
    found: dict[tuple[SliceRef, str], list[str]] = {}
    for package in packages:
        sdf = sdfs[package]
        for arch in arches:
            repository = session.repository(arch)
            try:
                meta = repository.latest(package)
            except PackageNotFoundError:
                continue  # not built for this arch
            rpm = session.read(arch, meta, elf=False)
            for entry in rpm.files:
                if not entry.path.startswith(BIN_DIRS) or "/" in entry.path[
                        len(_bin_dir(entry.path)):]:
                    continue
                if entry.kind not in (FileKind.FILE, FileKind.SYMLINK, FileKind.HARDLINK):
                    continue
                if entry.kind != FileKind.SYMLINK and not entry.mode & 0o111:
                    continue
                name = slice_of_path(sdf, entry.path, arch)
                if name is not None:
                    found.setdefault((SliceRef(package, name), entry.path), []).append(arch)
    programs: dict[SliceRef, list[Program]] = {}
    for (ref, path), on in sorted(found.items(), key=lambda item: (str(item[0][0]),
                                                                  item[0][1])):
        programs.setdefault(ref, []).append(Program(path, ref, tuple(on)))
    return programs


def _bin_dir(path: str) -> str:
    return next(d for d in BIN_DIRS if path.startswith(d))


def data_slices(paths: Sequence[str], sdfs: Mapping[str, Sdf], session: Any, arch: str,
                where: str) -> tuple[SliceRef, ...]:
    """The slices that select each of ``paths`` (files a probe's image gets on purpose);
    BuildError naming ``where`` when no package ships one or no slice selects it."""
    refs = []
    repository = session.repository(arch)
    for path in paths:
        owners = repository.whatprovides(path)
        if not owners:
            raise BuildError(f"{where}: data {path}: no package of the repositories ships it")
        package = owners[0].name
        sdf = sdfs.get(package)
        name = slice_of_path(sdf, path, arch) if sdf is not None else None
        if sdf is None or name is None:
            raise BuildError(f"{where}: data {path}: shipped by {package}, but no slice of "
                             f"{package}.yaml selects it")
        refs.append(SliceRef(package, name))
    return tuple(dict.fromkeys(refs))


def build_rootfs(parts: Sequence[SliceRef], sdfs: Mapping[str, Sdf], session: Any,
                 platform: Platform, root: Path, *, release: str) -> tuple[SliceRef, ...]:
    """Cut the closure of ``parts`` into ``root`` for ``platform`` with the base files of
    an image; returns the closure."""
    closure = resolve_closure(parts, sdfs, source="probe image")
    writer = RootWriter(root)
    try:
        cut_arch(closure, session, platform.machine, writer, lambda _message: None)
        add_base_files(writer, base_entries("probe", release), 0)
        writer.finish()
        add_runtime_devices(root)
    except BaseException:
        writer.remove_all()
        raise
    return closure.slices


def add_runtime_devices(root: Path) -> None:
    """The device nodes every container runtime gives an image (/dev/null, ...): a
    probe judges the slice, not the chroot, and ``sh -c '... >/dev/null'`` is common."""
    (root / "dev").mkdir(mode=0o755, exist_ok=True)
    for name, minor in RUNTIME_DEVICES:
        node = root / "dev" / name
        if not node.exists():
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
            os.chmod(node, 0o666)


def probe_slice(ref: SliceRef, programs: Sequence[Program], catalog: ProbeCatalog,
                sdfs: Mapping[str, Sdf], session: Any, platforms: Sequence[Platform], *,
                release: str, trace: bool = False, log: Log | None = None,
                extra: Sequence[SliceRef] = ()) -> list[SliceProbes]:
    """Run the probes of ``programs`` (all held by ``ref``) on each platform, in images
    of ``ref``'s closure plus ``extra`` (deps being tried) and each program's data; one
    SliceProbes per distinct image."""
    say = log or (lambda _message: None)
    by_data: dict[tuple[str, ...], list[tuple[Program, ProgramProbes]]] = {}
    for program in programs:
        entry = catalog.for_program(program.path)
        by_data.setdefault(entry.data, []).append((program, entry))
    results = []
    for data, members in by_data.items():
        build_seconds = 0.0
        parts: tuple[SliceRef, ...] = (ref, *extra)
        chosen: tuple[SliceRef, ...] = ()
        image: tuple[SliceRef, ...] = ()
        with ExitStack() as stack:
            ready: list[_Ready] = []
            for platform in platforms:
                wanted = [(p, e) for p, e in members if platform.machine in p.arches]
                if not wanted:
                    continue
                chosen = data_slices(data, sdfs, session, platform.machine,
                                     f"probes of {wanted[0][0].path} ({wanted[0][1].source})")
                parts = (ref, *extra, *chosen)
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sdfgen-probe-"))
                t0 = time.monotonic()
                root = Path(tmp) / "rootfs"
                image = build_rootfs(parts, sdfs, session, platform, root, release=release)
                build_seconds += time.monotonic() - t0
                say(f"{platform}: {ref}: image of {len(image)} slices built in "
                    f"{time.monotonic() - t0:.1f} s")
                shippers = (repository_shippers(session.repository(platform.machine), sdfs,
                                                {str(s) for s in image}) if trace else None)
                ready.append(_Ready(root, platform, tuple(wanted), shippers))
            runs = _run_platforms(ready, say)
        results.append(SliceProbes(ref, parts, image, tuple(runs), build_seconds, chosen))
    return results


@dataclass(frozen=True)
class _Ready:
    """A probe image built for one platform, with the programs to probe in it."""

    root: Path
    platform: Platform
    wanted: tuple[tuple[Program, ProgramProbes], ...]
    shippers: Any


def _run_platforms(ready: Sequence[_Ready], say: Log) -> list[ProbeRun]:
    """The probes of every platform's image; the platforms run at the same time (the
    runs are child processes, emulated ones CPU-bound), results in platform order."""
    def run_all(item: _Ready) -> list[ProbeRun]:
        return [run for program, entry in item.wanted
                for run in _run_probes(item.root, item.platform, program, entry,
                                       item.shippers, say)]

    if len(ready) < 2:
        return [run for item in ready for run in run_all(item)]
    with ThreadPoolExecutor(max_workers=len(ready), thread_name_prefix="probe") as pool:
        return [run for runs in pool.map(run_all, ready) for run in runs]


def _run_probes(root: Path, platform: Platform, program: Program, entry: ProgramProbes,
                shippers: Any, say: Log) -> list[ProbeRun]:
    runs = []
    for probe in entry.probes:
        run = run_probe(root, platform, program, probe, shippers)
        say(f"{platform}: {'PASS' if run.passed else 'FAIL'} {' '.join(run.command)}"
            + ("" if run.passed else f": {run.reason}"))
        runs.append(run)
        if entry.any_of and run.passed:
            break
    if entry.any_of and not any(r.passed for r in runs):
        # One result for the alternatives: the last, with every reason.
        reasons = "; ".join(f"{' '.join(r.probe.args)}: {r.reason}" for r in runs)
        last = runs[-1]
        runs = [ProbeRun(last.program, last.platform, last.probe, last.command, False,
                         last.exit_code, reasons, last.output, sum(r.seconds for r in runs),
                         last.trace)]
    elif entry.any_of:
        runs = [runs[-1]]
    return runs


def passes_in(parts: Sequence[SliceRef], runs: Sequence[ProbeRun], sdfs: Mapping[str, Sdf],
              session: Any, platform: Platform, *, release: str) -> bool:
    """Whether every probe of ``runs`` passes (untraced) in an image of ``parts``'
    closure on ``platform``."""
    with tempfile.TemporaryDirectory(prefix="sdfgen-probe-") as tmp:
        root = Path(tmp) / "rootfs"
        build_rootfs(parts, sdfs, session, platform, root, release=release)
        return all(run_probe(root, platform, run.program, run.probe, None).passed
                   for run in runs)


def run_probe(root: Path, platform: Platform, program: Program, probe: Probe,
              shippers: Any | None) -> ProbeRun:
    """Run one probe chrooted in a copy of ``root``; under the tracer when ``shippers``
    (a ShipperLookup) is given."""
    argv = (program.path, *probe.args)
    if shippers is None:
        result = smoke(root, platform, argv, timeout=probe.timeout, env=PROBE_ENV,
                       workdir="/")
        problem = "" if result.exit_code is not None else result.reason
        passed, reason = judge_run(result.exit_code, result.output, problem, probe)
        return ProbeRun(program, platform, probe, argv, passed, result.exit_code, reason,
                        result.output, result.seconds)
    traced = trace_image(root, platform, argv, env=PROBE_ENV, workdir="/",
                         timeout=probe.timeout, shippers=shippers)
    passed, reason = judge_run(traced.exit_code, traced.output, traced.problem, probe)
    return ProbeRun(program, platform, probe, argv, passed, traced.exit_code, reason,
                    traced.output, traced.seconds, traced)


def judge_run(exit_code: int | None, output: str, problem: str, probe: Probe
              ) -> tuple[bool, str]:
    """Whether a run passed ``probe``, and the reason (the output's telling line)."""
    detail = _telling_line(output)
    if exit_code is None:
        return False, problem + (f": {detail}" if detail else "")
    if exit_code != probe.exit:
        return False, f"exit code {exit_code}, expected {probe.exit}" + (
            f": {detail}" if detail else "")
    if probe.output is not None and not re.search(probe.output, output, re.MULTILINE):
        return False, f"output does not match {probe.output!r}" + (
            f": {detail}" if detail else "")
    return True, f"exit code {exit_code}" + (" and output matched" if probe.output else "")


# Lines that tell why a run failed, best first: the loader's, a Python exception's (the
# last), a missing file's (the first: OpenSSL prints it before its error stack), any
# error; else the last line.
_TELLING = ((re.compile(r"error while loading shared libraries"), False),
            (re.compile(r"^\w+(Error|Exception): "), True),
            (re.compile(r"not found|No such file|cannot|can't|denied|Sorry", re.IGNORECASE),
             False),
            (re.compile(r"error", re.IGNORECASE), True))


def _telling_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern, last in _TELLING:
        for line in reversed(lines) if last else lines:
            if pattern.search(line):
                return line[:200]
    return lines[-1][:200] if lines else ""
