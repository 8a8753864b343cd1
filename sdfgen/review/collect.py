"""The I/O side of ``sdfgen review``: what changed between two SDF sets, as data.

Per package: the build each side's SDF is for (its header's NEVRA, else the
repositories' newest) and the files the package itself added or dropped between those
builds (when the repositories still hold both), and :mod:`sdfgen.sdf.diff`'s difference
of the two SDFs, each read against its own build. Per slice added, removed or renamed:
the Distrofiles (by part or through their closure, :mod:`builder.closure`) and SDFs
that use it on each side. Then ``sdfgen check``'s findings of the new set and the
slice graph with the changes marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sdfgen.checks.findings import Finding
from sdfgen.checks.runner import SessionPackages, check_paths, load_targets
from sdfgen.errors import PackageNotFoundError
from sdfgen.facts import ElfInfo, FileKind, PackageMeta, RpmPackage
from sdfgen.review.distros import DistroUse, read_distrofiles
from sdfgen.review.graph import SliceGraph, SliceState, neighbourhood, slice_graph
from sdfgen.review.sources import SdfSet
from sdfgen.rpm.session import Session
from sdfgen.sdf.diff import SdfDiff, diff_sdfs, selection_changes, selections
from sdfgen.sdf.model import Sdf
from sdfgen.slicing.baseline import find_build
from sdfgen.slicing.header import parse_header

GRAPH_LIMIT = 40  # slices; a larger set is drawn as the neighbourhood of its changes


@dataclass(frozen=True)
class BuildChange:
    """The build of one package on ``arch`` each side is for, and how that is known
    (``header``, ``repository``, or ``""`` when neither says); ``files_added`` and
    ``files_dropped`` are None when a build is not in the repositories."""

    arch: str
    old: str | None
    new: str | None
    old_from: str
    new_from: str
    files_added: tuple[str, ...] | None = None
    files_dropped: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PackageReview:
    """One package whose SDF or build changed; ``old_file`` is None for a new SDF."""

    package: str
    old_file: str | None
    new_file: str | None
    builds: tuple[BuildChange, ...]
    diff: SdfDiff

    @property
    def version_changed(self) -> bool:
        """Whether any arch's build differs between the sides."""
        return any(b.old != b.new for b in self.builds)


@dataclass(frozen=True)
class Use:
    """Who uses a slice: a Distrofile (``part``, ``closure``) or an SDF (``how`` says
    which slice's deps, or ``top-level deps``)."""

    user: str
    kind: str  # distrofile | sdf
    how: str


@dataclass(frozen=True)
class SliceUses:
    """A slice ``added``, ``removed`` or ``renamed`` and who uses it: ``before`` (the
    old name in the old set), ``after`` (the new name in the new set) and ``stale``
    (the new set still naming the old name)."""

    change: str
    old_ref: str | None
    new_ref: str | None
    before: tuple[Use, ...]
    after: tuple[Use, ...]
    stale: tuple[Use, ...]
    overlap: float = 1.0


@dataclass(frozen=True)
class Review:
    """Everything the report shows."""

    old_label: str
    new_label: str
    arches: tuple[str, ...]
    with_repository: bool
    packages: tuple[PackageReview, ...]
    unchanged: int
    uses: tuple[SliceUses, ...]
    findings: tuple[Finding, ...]
    problems: tuple[str, ...]  # Distrofiles that could not be read or resolved
    graph: SliceGraph


class BuildPackages:
    """:class:`~sdfgen.rpm.session.PackageSource` answering with pinned builds (else the
    newest), read without ELF facts: enough for what slices select and their bytes."""

    def __init__(self, session: Session, pins: Mapping[tuple[str, str], PackageMeta]):
        self.session = session
        self.pins = pins

    def package(self, arch: str, name: str) -> RpmPackage | None:
        """The pinned build of ``name`` on ``arch``, else the newest, or None."""
        meta = self.pins.get((arch, name))
        if meta is None:
            try:
                meta = self.session.repository(arch).latest(name)
            except PackageNotFoundError:
                return None
        return self.session.read(arch, meta, elf=False)

    def providers(self, arch: str, soname: str, elf: ElfInfo) -> tuple[RpmPackage, ...]:
        """Not needed by a diff: no providers."""
        return ()


def _files(session: Session, arch: str, meta: PackageMeta) -> frozenset[str]:
    rpm = session.read(arch, meta, elf=False)
    return frozenset(e.path for e in rpm.files if e.kind is not FileKind.DIR)


def header_build(session: Session | None, arch: str, sdf: Sdf | None
                 ) -> tuple[str | None, str, PackageMeta | None]:
    """The build ``sdf`` was written for on ``arch``: (NEVRA, how known: "header" from
    its header comment, "repository" the newest, the build's metadata when the
    repositories hold it)."""
    if sdf is None:
        return None, "", None
    header = None
    if sdf.path is not None:
        try:
            header = parse_header(sdf.path.read_text(encoding="utf-8")).nevras.get(arch)
        except (OSError, UnicodeDecodeError):
            header = None
    if session is None:
        return header, "header" if header else "", None
    repository = session.repository(arch)
    if header is not None:
        return header, "header", find_build(repository, sdf.package, header)
    try:
        meta = repository.latest(sdf.package)
    except PackageNotFoundError:
        return None, "", None
    return meta.nevra, "repository", meta


def _relative(sdf: Sdf | None, root: Path) -> str | None:
    if sdf is None or sdf.path is None:
        return None if sdf is None else f"{sdf.package}.yaml"
    try:
        return str(sdf.path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(sdf.path)


def _review_package(name: str, old: Sdf | None, new: Sdf | None, session: Session | None,
                    old_set: SdfSet, new_set: SdfSet) -> PackageReview:
    before, after = old or Sdf(name), new or Sdf(name)
    builds: list[BuildChange] = []
    old_pins: dict[tuple[str, str], PackageMeta] = {}
    new_pins: dict[tuple[str, str], PackageMeta] = {}
    arches = tuple(session.arches) if session is not None else ()
    for arch in arches:
        old_nevra, old_from, old_meta = header_build(session, arch, old)
        new_nevra, new_from, new_meta = header_build(session, arch, new)
        added = dropped = None
        if old_meta is not None and new_meta is not None and session is not None:
            old_paths, new_paths = _files(session, arch, old_meta), _files(session, arch,
                                                                           new_meta)
            added, dropped = tuple(sorted(new_paths - old_paths)), tuple(
                sorted(old_paths - new_paths))
        builds.append(BuildChange(arch, old_nevra, new_nevra, old_from, new_from, added,
                                  dropped))
        if old_meta is not None:
            old_pins[(arch, name)] = old_meta
        if new_meta is not None:
            new_pins[(arch, name)] = new_meta
    if session is None:
        diff = diff_sdfs(before, after)
    else:
        old_source, new_source = BuildPackages(session, old_pins), BuildPackages(session,
                                                                                 new_pins)
        diff = diff_sdfs(before, after, (selections(before, old_source, arches),
                                         selections(after, new_source, arches)))
        diff = selection_changes(diff, before, after, old_source, arches, new_source)
    return PackageReview(name, _relative(old, old_set.directory),
                         _relative(new, new_set.directory), tuple(builds), diff)


def _changed(review: PackageReview) -> bool:
    diff = review.diff
    return (review.old_file is None or review.new_file is None or review.version_changed
            or not diff.is_empty or any(z.before != z.after for z in diff.sizes))


def _sdf_uses(universe: Mapping[str, Sdf], ref: str, root: Path) -> list[Use]:
    uses = []
    for package in sorted(universe):
        sdf = universe[package]
        where = _relative(sdf, root) or package
        if any(str(dep) == ref for dep in sdf.deps):
            uses.append(Use(where, "sdf", "top-level deps"))
        for name, slice_def in sdf.slices.items():
            if any(str(dep) == ref for dep in slice_def.deps):
                uses.append(Use(where, "sdf", f"slice {name}"))
    return uses


def _uses(ref: str | None, universe: Mapping[str, Sdf], distros: Sequence[DistroUse],
          root: Path) -> tuple[Use, ...]:
    if ref is None:
        return ()
    out = [Use(d.name, "distrofile", "part" if ref in d.parts else "closure")
           for d in distros if ref in d.parts or ref in d.closure]
    return tuple(out + _sdf_uses(universe, ref, root))


def collect_review(old_set: SdfSet, new_set: SdfSet, arches: tuple[str, ...],
                   session: Session | None) -> Review:
    """The review of ``old_set`` -> ``new_set``; ``session`` (None: no repository) gives
    builds, file selections and bytes, and the repository checks."""
    old_loaded, new_loaded = load_targets([old_set.directory]), load_targets(
        [new_set.directory])
    old_sdfs, new_sdfs = old_loaded.universe, new_loaded.universe
    arches = tuple(session.arches) if session is not None else arches
    packages, unchanged = [], 0
    for name in sorted(set(old_sdfs) | set(new_sdfs)):
        review = _review_package(name, old_sdfs.get(name), new_sdfs.get(name), session,
                                 old_set, new_set)
        if _changed(review):
            packages.append(review)
        else:
            unchanged += 1
    old_distros, old_problems = read_distrofiles(old_set.distrofiles, old_sdfs, "old")
    new_distros, new_problems = read_distrofiles(new_set.distrofiles, new_sdfs, "new")
    uses: list[SliceUses] = []
    states: dict[str, SliceState] = {}
    notes: dict[str, str] = {}
    removed: list[tuple[Sdf, str]] = []
    for review in packages:
        diff, pkg = review.diff, review.package
        for name in diff.slices_added:
            states[f"{pkg}_{name}"] = SliceState.ADDED
            uses.append(SliceUses("added", None, f"{pkg}_{name}", (),
                                  _uses(f"{pkg}_{name}", new_sdfs, new_distros,
                                        new_set.directory), ()))
        for name in diff.slices_removed:
            ref = f"{pkg}_{name}"
            removed.append((old_sdfs[pkg], name))
            uses.append(SliceUses("removed", ref, None,
                                  _uses(ref, old_sdfs, old_distros, old_set.directory), (),
                                  _uses(ref, new_sdfs, new_distros, new_set.directory)))
        for index, (old_name, new_name) in enumerate(diff.renamed):
            old_ref, new_ref = f"{pkg}_{old_name}", f"{pkg}_{new_name}"
            states[new_ref] = SliceState.RENAMED
            notes[new_ref] = f"was {old_name}"
            share = diff.overlaps[index] if index < len(diff.overlaps) else 1.0
            uses.append(SliceUses(
                "renamed", old_ref, new_ref,
                _uses(old_ref, old_sdfs, old_distros, old_set.directory),
                _uses(new_ref, new_sdfs, new_distros, new_set.directory),
                _uses(old_ref, new_sdfs, new_distros, new_set.directory), share))
        touched = {change.name for change in diff.changed}
        touched |= {s.slice for s in diff.selections}
        touched |= {z.slice for z in diff.sizes if z.before != z.after}
        for name in touched:
            states.setdefault(f"{pkg}_{name}", SliceState.CHANGED)
        if review.version_changed and review.new_file is not None:
            for name in new_sdfs[pkg].slices:
                if f"{pkg}_{name}" not in states:
                    states[f"{pkg}_{name}"] = SliceState.REBUILT
    findings = _findings(new_set, arches, session)
    # Old names too: whatever still names them shows, pointing at a missing slice.
    focus = set(states) | {u.old_ref for u in uses if u.old_ref is not None}
    users = {d.name: d.parts for d in new_distros if focus & (set(d.parts) | d.closure)}
    graph = slice_graph(new_sdfs, states=states, notes=notes, removed=removed,
                        distrofiles=users, legend=True)
    if len(graph.nodes) > GRAPH_LIMIT and focus:
        graph = neighbourhood(graph, focus)
    return Review(old_set.label, new_set.label, arches, session is not None, tuple(packages),
                  unchanged, tuple(uses), tuple(findings),
                  tuple(old_problems + new_problems), graph)


def _findings(new_set: SdfSet, arches: tuple[str, ...], session: Session | None
              ) -> list[Finding]:
    packages = SessionPackages(session) if session is not None else None
    found = check_paths([new_set.directory], arches, packages)
    root = str(new_set.directory.resolve()) + "/"
    return [Finding(f.file.removeprefix(root), f.line, f.severity, f.id, f.message)
            for f in found]
