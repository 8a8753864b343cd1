"""Probe rounds and their feedback into the SDFs: traced needs become deps or contents.

``probe_sdfs`` runs the probes of every slice that holds a program (``builder.probe``);
with ``trace`` each run is traced, and every path a probe missed that a package ships
becomes a :class:`TracedNeed` of the probed slice:

- ``dep``: another slice selects the file (``openssl_data`` for
  ``/usr/lib/ssl/openssl.cnf``): the probed slice depends on it;
- ``path``: the file is the probed package's own and no slice selects it: it joins the
  slice that selects the files beside it (else the probed slice, which then depends on
  that slice);
- ``unresolved``: another package ships it, but no slice of its SDF selects it.

With ``fix`` the paths are written into the SDFs at once and the deps are tried in
memory: the slices whose closure changed are probed again, until nothing new is
missing or ``rounds`` rounds have run. Then the deps a slice can do without are left
out (see ``_fewest``) and the rest written (comments kept, atomic write), each with
``# traced: openssl req opened /usr/lib/ssl/openssl.cnf``.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.closure import resolve_closure
from builder.errors import BuildError
from builder.platform import Platform
from builder.probe import ProbeRun, SliceProbes, find_programs, passes_in, probe_slice
from builder.trace import Shipper
from sdfgen.facts import FileKind, PackageFile
from sdfgen.rpm.session import RepoOptions, open_session
from sdfgen.sdf.document import append_dep, dump_document, insert_path, load_document, write_atomic
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, SliceRef, load_sdf_dir, parse_slice_ref, slice_of_path
from sdfgen.sdf.probes import ProbeCatalog

DEFAULT_ROUNDS = 4
_TRIPLET = re.compile(r"/(?:x86_64|aarch64)-linux-gnu/")
_VERBS = {"open": "opened", "exec": "ran", "interp": "ran", "stat": "looked up",
          "access": "checked", "readlink": "read the link", "chdir": "entered"}
Log = Callable[[str], None]


@dataclass(frozen=True)
class TracedNeed:
    """A path a probe of ``slice`` missed that a package ships, and what to do about it:
    ``kind`` dep (``target`` a slice), path (``target`` a pattern of the slice) or
    unresolved (``target`` says why)."""

    slice: SliceRef
    kind: str
    target: str
    path: str
    op: str
    command: str
    package: str
    platform: str
    arches: tuple[str, ...] = ()  # the arches whose runs missed it

    @property
    def comment(self) -> str:
        """What the SDF says about it: ``traced: openssl req opened /usr/lib/...``."""
        return f"traced: {self.command} {_VERBS.get(self.op, 'tried')} {self.path}"


@dataclass(frozen=True)
class ProbeReport:
    """Every slice's last probe runs, the needs traced (and those written), per round."""

    slices: tuple[SliceProbes, ...]
    needs: tuple[TracedNeed, ...]
    written: tuple[TracedNeed, ...]
    rounds: int
    seconds: float
    platforms: tuple[Platform, ...]
    traced: bool
    round_seconds: tuple[float, ...] = field(default=())

    @property
    def runs(self) -> tuple[ProbeRun, ...]:
        """Every probe run of the last round of each slice."""
        return tuple(run for s in self.slices for run in s.runs)


def _short_command(run: ProbeRun) -> str:
    words = [posixpath.basename(run.command[0])]
    if run.probe.args and not run.probe.args[0].startswith("-") and len(
            run.probe.args[0]) <= 20:
        words.append(run.probe.args[0])
    return " ".join(words)


# (package, arch) -> the package's files by path, to tell directories from files.
FilesOf = Callable[[str, str], Mapping[str, PackageFile]]


def traced_needs(results: Sequence[SliceProbes], sdfs: Mapping[str, Sdf],
                 files_of: FilesOf) -> list[TracedNeed]:
    """The needs the failed traced runs of ``results`` show, one per (slice, kind,
    target). A probe that passed needs nothing more: what it tried beyond the image was
    optional (``python3`` opening gconv-modules, ``openssl version`` its config).

    A directory a package ships is a need of the one slice that selects files in it
    (python's search of ``lib-dynload``); with files of several slices in it, the
    tracer cannot tell which one the program wanted, and the files it then opens do.
    A file of the probed package that no slice selects joins the slice that selects
    the files beside it (else the probed slice).
    """
    needs: dict[tuple[SliceRef, str, str], TracedNeed] = {}
    arches: dict[tuple[SliceRef, str, str], set[str]] = {}
    for result in results:
        in_image = {str(ref) for ref in result.image_slices}
        for run in result.runs:
            if run.trace is None or run.passed:
                continue
            arch = run.platform.machine
            for traced in run.trace.of_kind("shipped"):
                shipper = traced.shipped_by[0]
                if shipper.in_image:
                    continue
                found = _needs_of(result.slice, shipper, traced.ops, sdfs,
                                  files_of(shipper.package, arch), arch, in_image)
                for key in map(_any_triplet, found):
                    arches.setdefault(key, set()).add(arch)
                    if key not in needs:
                        needs[key] = TracedNeed(key[0], key[1], key[2], traced.path,
                                                traced.ops[0], _short_command(run),
                                                shipper.package, str(run.platform))
    return [dataclasses.replace(need, arches=tuple(sorted(arches[key])))
            for key, need in needs.items()]


def _any_triplet(need: tuple[SliceRef, str, str]) -> tuple[SliceRef, str, str]:
    """A path need with the arch's multiarch directory as ``*-linux-gnu``, as SDFs write
    it: the paths of both arches then make one need, written to ``common``."""
    if need[1] != "path":
        return need
    return need[0], need[1], _TRIPLET.sub("/*-linux-gnu/", need[2])


def _needs_of(probed: SliceRef, shipper: Shipper, ops: Sequence[str],
              sdfs: Mapping[str, Sdf], files: Mapping[str, PackageFile], arch: str,
              in_image: set[str]) -> list[tuple[SliceRef, str, str]]:
    """(slice, kind, target) of one missing path; empty when it needs nothing."""
    entry = files.get(shipper.file)
    sdf = sdfs.get(shipper.package)
    if entry is not None and entry.kind == FileKind.DIR:
        under = shipper.file.rstrip("/") + "/"
        inside = [p for p, f in files.items() if p.startswith(under) and
                  f.kind != FileKind.DIR]
        holders = {slice_of_path(sdf, p, arch) for p in inside} if sdf is not None else set()
        named = sorted(h for h in holders if h is not None)
        if len(named) == 1:
            return [(probed, "dep", f"{shipper.package}_{named[0]}")]
        if not named and inside and shipper.package == probed.package and "open" in ops:
            return [(probed, "path", under + "**")]
        return []
    if shipper.slice is not None:
        return [(probed, "dep", shipper.slice)]
    if shipper.package != probed.package or sdf is None:
        return [(probed, "unresolved", f"{shipper.package} ships {shipper.file}, but no "
                                       "slice of its SDF selects it")]
    folder = posixpath.dirname(shipper.file) + "/"
    beside = sorted({name for p in files if posixpath.dirname(p) + "/" == folder
                     and (name := slice_of_path(sdf, p, arch)) is not None})
    home = SliceRef(probed.package, beside[0]) if len(beside) == 1 else probed
    found = [(home, "path", shipper.file)]
    if home != probed and str(home) not in in_image:
        found.append((probed, "dep", str(home)))
    return found


def apply_needs(needs: Sequence[TracedNeed], sdf_dir: Path,
                arches: Sequence[str]) -> list[TracedNeed]:
    """Write the dep and path needs into the SDFs of ``sdf_dir``; return those that were
    new. A path missed on every one of ``arches`` goes to ``common``, else to each
    arch's ``extra``. One load and one atomic write per SDF."""
    sdfs = load_sdf_dir(sdf_dir)
    written: list[TracedNeed] = []
    by_package: dict[str, list[TracedNeed]] = {}
    for need in needs:
        if need.kind in ("dep", "path"):
            by_package.setdefault(need.slice.package, []).append(need)
    for package, wanted in by_package.items():
        path = sdfs[package].path
        assert path is not None  # loaded from the directory
        doc = load_document(path)
        for need in wanted:
            if need.kind == "dep":
                added = append_dep(doc, need.slice.slice, need.target, need.comment)
            elif set(arches) <= set(need.arches):
                added = insert_path(doc, need.slice.slice, need.target, comment=need.comment)
            else:
                added = False
                for arch in need.arches:
                    added |= insert_path(doc, need.slice.slice, need.target, arch,
                                         comment=need.comment)
            if added:
                written.append(need)
        if any(n.slice.package == package for n in written):
            write_atomic(path, dump_document(doc))
    return written


def probe_sdfs(sdf_dir: Path, packages: Sequence[str], platforms: Sequence[Platform],
               repo: RepoOptions, catalog: ProbeCatalog, *, trace: bool = False,
               fix: bool = False, rounds: int = DEFAULT_ROUNDS,
               log: Log | None = None) -> ProbeReport:
    """Probe every slice of ``packages`` (default: every SDF of ``sdf_dir``) that holds
    a program; with ``fix``, write what the traces found and probe again (bounded)."""
    started = time.monotonic()
    say = log or (lambda _message: None)
    sdfs = load_sdf_dir(sdf_dir)
    chosen = tuple(packages) or tuple(sorted(sdfs))
    for package in chosen:
        if package not in sdfs:
            raise BuildError(f"{sdf_dir}: no SDF for package {package!r}")
    trace = trace or fix
    options = dataclasses.replace(repo, arches=tuple(dict.fromkeys(p.machine
                                                                   for p in platforms)))
    latest: dict[SliceRef, list[SliceProbes]] = {}
    all_needs: dict[tuple[SliceRef, str, str], TracedNeed] = {}
    trying: dict[SliceRef, dict[str, TracedNeed]] = {}  # traced deps, not yet written
    failed_first: dict[SliceRef, list[tuple[SliceProbes, ProbeRun]]] = {}
    written: list[TracedNeed] = []
    round_seconds = []
    done = 0
    with open_session(options) as session:
        programs = find_programs(sdfs, chosen, session, options.arches)
        files_of = _files_of(session)
        pending = list(programs)
        for done in range(1, max(1, rounds) + 1):
            t0 = time.monotonic()
            fresh = []
            for ref in pending:
                say(f"round {done}: {ref}: {', '.join(p.path for p in programs[ref])}")
                latest[ref] = probe_slice(
                    ref, programs[ref], catalog, sdfs, session, platforms,
                    release=repo.release, trace=trace, log=say,
                    extra=[parse_slice_ref(target) for target in trying.get(ref, {})])
                fresh += latest[ref]
                failed_first.setdefault(ref, [(s, run) for s in latest[ref]
                                              for run in s.runs if not run.passed])
            needs = [_on_every_arch(n, files_of, options.arches)
                     for n in traced_needs(fresh, sdfs, files_of)]
            for need in needs:
                all_needs.setdefault((need.slice, need.kind, need.target), need)
            round_seconds.append(time.monotonic() - t0)
            if not fix:
                break
            # Paths change what a slice selects: written now, seen by the next round.
            paths = apply_needs([n for n in needs if n.kind == "path"], sdf_dir,
                                options.arches)
            written += paths
            retry = set()
            for need in needs:
                if need.kind == "dep" and need.target not in trying.setdefault(need.slice, {}):
                    trying[need.slice][need.target] = need
                    retry.add(need.slice)
            if paths:
                sdfs = load_sdf_dir(sdf_dir)
                changed = {str(n.slice) for n in paths}
                retry |= {ref for ref in programs if _closure_touches(ref, sdfs, changed)}
            pending = [ref for ref in programs if ref in retry]
            if not pending:
                break
        if fix:
            keep = []
            fewer = []
            for ref, tried in trying.items():
                passed = all(run.passed for s in latest.get(ref, ()) for run in s.runs)
                deps = list(tried.values())
                if passed and len(deps) > 1:
                    deps = _fewest(deps, failed_first.get(ref, []), sdfs, session,
                                   repo.release, say)
                    if len(deps) < len(tried):
                        fewer.append(ref)
                keep += deps
            written += apply_needs(keep, sdf_dir, options.arches)
            if fewer:
                # The verdicts are of the SDFs as written: a slice that lost a dep tried
                # in memory is probed again, on every platform, with what it kept.
                t0 = time.monotonic()
                sdfs = load_sdf_dir(sdf_dir)
                done += 1
                for ref in fewer:
                    say(f"round {done}: {ref}: again, with the deps written")
                    latest[ref] = probe_slice(ref, programs[ref], catalog, sdfs, session,
                                              platforms, release=repo.release, trace=trace,
                                              log=say)
                round_seconds.append(time.monotonic() - t0)
    return ProbeReport(tuple(s for ref in programs for s in latest.get(ref, ())),
                       tuple(all_needs.values()), tuple(written), done,
                       time.monotonic() - started, tuple(platforms), trace,
                       tuple(round_seconds))


def _fewest(deps: list[TracedNeed], failed: Sequence[tuple[SliceProbes, ProbeRun]],
            sdfs: Mapping[str, Sdf], session: Any, release: str,
            say: Log) -> list[TracedNeed]:
    """The traced deps a slice cannot do without: each is left out in turn and kept only
    if one of the probes that failed at first fails again without it (on the first
    platform they failed on).

    A failing run opens much it could do without (python3 reads the C.utf8 locale and
    the gconv cache before it dies for want of its standard library); only a run
    without the dep tells.
    """
    if not failed:
        return deps
    platform = failed[0][1].platform
    base = failed[0][0]
    runs = [run for s, run in failed if run.platform == platform and s is base]
    kept = list(deps)
    for need in deps:
        others = [parse_slice_ref(n.target) for n in kept if n is not need]
        if passes_in((base.slice, *others, *base.data), runs, sdfs, session, platform,
                     release=release):
            say(f"{need.slice}: {need.target} not needed: the probes pass without it")
            kept.remove(need)
    return kept


def _on_every_arch(need: TracedNeed, files_of: FilesOf, arches: Sequence[str]) -> TracedNeed:
    """A path need with every arch whose package has the path too: an SDF's ``common``
    block, not an arch's ``extra`` (which splitter would run on the other arch)."""
    if need.kind != "path" or set(arches) <= set(need.arches):
        return need
    on = [arch for arch in arches if arch in need.arches or any(
        matches(need.target, path) for path in files_of(need.package, arch))]
    return dataclasses.replace(need, arches=tuple(on))


def _files_of(session: Any) -> FilesOf:
    memo: dict[tuple[str, str], Mapping[str, PackageFile]] = {}

    def files_of(package: str, arch: str) -> Mapping[str, PackageFile]:
        if (package, arch) not in memo:
            rpm = session.read(arch, session.repository(arch).latest(package), elf=False)
            memo[(package, arch)] = {f.path: f for f in rpm.files}
        return memo[(package, arch)]

    return files_of


def _closure_touches(ref: SliceRef, sdfs: Any, changed: set[str]) -> bool:
    closure = resolve_closure((ref,), sdfs, source="probe image")
    return any(str(s) in changed for s in closure.slices)
