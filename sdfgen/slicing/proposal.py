"""A proposed SDF for one package, from its facts on every arch (pure: no I/O).

Input: per arch the package's files (:class:`ArchFacts`) and its run-time needs
(:class:`Need`: NEEDED sonames, the ELF interpreter, script interpreters, symlink targets,
files ELF objects open by name, the library an interpreter starts with
(:func:`library_needs`), each with the package and file that satisfy it), a
:class:`~sdfgen.slicing.plan.SlicePlan` for the package, and a ``locate`` callable that
names the slice of another package's file (from an existing SDF, or from sdfgen's own
slicing of that package). Output: a :class:`Proposal`: slices with deps (each with why),
patterns placed in ``common`` or ``extra`` (see :mod:`sdfgen.slicing.placement`), the
files left out and why, and notes for the user ("no SDF for glibc in --sdf-dir; assumed
glibc_libs").
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sdfgen.facts import FileKind, RpmPackage
from sdfgen.roles.labels import Role
from sdfgen.sdf.globs import any_matcher, is_glob
from sdfgen.slicing.layout import library_dirs
from sdfgen.slicing.placement import Placement, path_indexes, place, question_marked
from sdfgen.slicing.plan import FileChoice, SlicePlan, resolve_link
from sdfgen.slicing.sliceable import refusal

COPYRIGHT_REASON = "licence, with every slice: splitter cuts no top-level deps"
ANCHOR_COMMENT = "as in common: splitter runs this block on every arch; never let it select nothing"

@dataclass(frozen=True)
class Need:
    """One run-time need of a file and what satisfies it (package None: unresolved)."""

    needed_by: str
    what: str  # a soname, the interpreter path, a script interpreter, a symlink target,
    # a path an ELF object names, the library directory an interpreter starts with
    kind: str  # "NEEDED", "interpreter", "script", "symlink", "opens", "library"
    package: str | None
    path: str | None


@dataclass(frozen=True)
class ArchFacts:
    """A package as read on one arch, with its needs."""

    arch: str
    rpm: RpmPackage
    needs: tuple[Need, ...] = ()


@dataclass(frozen=True)
class Located:
    """The slice holding a file of another package, and a note when it was assumed."""

    ref: str | None  # "glibc_libs"; None when no slice holds the file
    note: str | None = None


# (package, path, arch) -> the slice of that package holding path.
Locate = Callable[[str, str, str], Located]


@dataclass(frozen=True)
class ProposedDep:
    """A slice dep with the first reason (``libssl.so.3 NEEDED libc.so.6``)."""

    ref: str
    reason: str
    more: int = 0  # how many further needs lead to the same dep
    arches: tuple[str, ...] = ()  # empty: on every arch; else only these
    note: str | None = None


@dataclass(frozen=True)
class PathLine:
    """A pattern of a slice with the comment its files' decisions call for."""

    placement: Placement
    comment: str | None = None


@dataclass(frozen=True)
class ProposedSlice:
    """A slice: deps and patterns (common first, then per platform)."""

    name: str
    deps: tuple[ProposedDep, ...]
    paths: tuple[PathLine, ...]


@dataclass(frozen=True)
class LeftOut:
    """A file in no slice, grouped by ``group`` in the output."""

    path: str
    group: str
    detail: str | None = None
    arches: tuple[str, ...] = ()  # empty: on every arch


@dataclass(frozen=True)
class Proposal:
    """Everything the emitter writes for one package."""

    package: str
    nevras: tuple[tuple[str, str], ...]  # (arch, NEVRA)
    arches: tuple[str, ...]
    top_deps: tuple[str, ...]
    slices: tuple[ProposedSlice, ...]
    left_out: tuple[LeftOut, ...]
    directories: int
    notes: tuple[str, ...]
    model: bool
    unresolved: tuple[str, ...] = ()
    file_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def slice(self, name: str) -> ProposedSlice | None:
        """The slice called ``name``, or None."""
        return next((s for s in self.slices if s.name == name), None)


def symlink_needs(rpm: RpmPackage) -> tuple[Need, ...]:
    """A :class:`Need` per symlink whose target is a file of the package itself
    (a directory target is made by whichever slice ships the link)."""
    own = {f.path for f in rpm.files if f.kind is not FileKind.DIR}
    needs = []
    for entry in rpm.files:
        if entry.kind is FileKind.SYMLINK and entry.link_target:
            target = resolve_link(entry.path, entry.link_target)
            if target in own:
                needs.append(Need(entry.path, entry.link_target, "symlink", rpm.name, target))
    return tuple(needs)


def library_needs(plan: SlicePlan, arch: str) -> list[Need]:
    """An interpreter's need of the library it starts with: ``/usr/bin/python3.11``
    cannot start without ``encodings`` of ``/usr/lib/python3.11/``. A need of every slice
    holding that library's code, except slices an image names on purpose (optional
    extension modules) and executables (which depend on it, not it on them). A directory
    of data that shares the program's name (``locale``'s ``/usr/lib/locale/``) is none.
    """
    choices = plan.choices[arch]
    paths = sorted(choices)
    needs: list[Need] = []
    for path, entry in plan.files[arch].items():
        if (entry.elf is None or entry.elf.soname or entry.elf.error
                or not entry.mode & 0o111 or "/bin/" not in path):
            continue
        for directory in library_dirs(path):
            held: dict[str, str] = {}
            code = False
            for member in paths[bisect.bisect_left(paths, directory):]:
                if not member.startswith(directory):
                    break
                choice = choices[member]
                if (choice.slice is not None and choice.slice not in plan.optional
                        and choice.role not in (Role.BINS, Role.SCRIPTS)):
                    held.setdefault(choice.slice, member)
                    code = code or choice.role in (Role.LIBS, Role.MODULES)
            if code:
                needs.extend(Need(path, directory, "library", plan.package, member)
                             for member in held.values())
    return needs


def _reason(need: Need) -> str:
    name = posixpath.basename(need.needed_by)
    if need.kind == "NEEDED":
        return f"{name} NEEDED {need.what}"
    if need.kind == "interpreter":
        return f"{name} interpreter {need.what}"
    if need.kind == "script":
        return f"{name} script interpreter {need.what}"
    if need.kind == "opens":
        return f"opens {need.what} (a path in {need.needed_by})"
    if need.kind == "library":
        return f"{name} starts with its library in {need.what}"
    return f"{name} -> {need.what}"


def propose(plan: SlicePlan, facts: Sequence[ArchFacts], locate: Locate, *,
            model: bool = True) -> Proposal:
    """The proposal for ``plan``'s package; ``facts`` in the plan's arch order."""
    arches = plan.arches
    by_arch = {f.arch: f for f in facts}
    file_lists = {arch: tuple(sorted(plan.files[arch])) for arch in arches}
    # Directories a glob may select as well; not those the builder refuses (``..``).
    dirs = {arch: {p for p, f in plan.files[arch].items()
                   if f.kind is FileKind.DIR and refusal(f) is None}
            for arch in arches}
    notes: list[str] = [note for f in facts for note in _payload_notes(f.rpm)]
    unresolved: dict[str, list[str]] = {}
    slices = []
    indexes = path_indexes(file_lists)  # once: every slice's globs are tried against it
    skipped = _cyclic_opens(plan, by_arch)
    for name in plan.order:
        members = plan.members(name)
        placements = place(members, indexes, arches, dirs)
        lines = tuple(PathLine(p, _comment(plan, p)) for p in placements)
        deps = _deps(plan, name, members, by_arch, locate, notes, unresolved, skipped)
        if "copyright" in plan.order and name != "copyright":
            deps = (*deps, ProposedDep(f"{plan.package}_copyright", COPYRIGHT_REASON))
        lines = _anchor_arch_blocks(lines, members, file_lists)
        slices.append(ProposedSlice(name, deps, lines))
    # Kept at the top as well, as the corpus writes it; splitter cuts only slice deps.
    top = (f"{plan.package}_copyright",) if "copyright" in plan.order else ()
    return Proposal(
        package=plan.package,
        nevras=tuple((arch, by_arch[arch].rpm.nevra) for arch in arches),
        arches=arches, top_deps=top, slices=tuple(slices),
        left_out=_left_out(plan),
        directories=len({p for arch in arches for p, f in plan.files[arch].items()
                         if f.kind is FileKind.DIR}),
        notes=tuple(dict.fromkeys(notes)), model=model,
        unresolved=tuple(f"{text} (on {', '.join(on)})"
                         for text, on in unresolved.items()), file_lists=file_lists,
    )


def _anchor_arch_blocks(lines: tuple[PathLine, ...], members: Mapping[str, set[str]],
                        file_lists: Mapping[str, Sequence[str]]) -> tuple[PathLine, ...]:
    """Make every ``extra.linux-ARCH`` block safe for splitter, which runs each block on
    every arch and extracts the WHOLE package when a block selects nothing there.

    A block gets the slice's first common pattern that selects something on every arch:
    on its own arch that selects the slice's files again, on the others only this
    slice's files (checked). A block that cannot be anchored so is left as it is;
    ``sdfgen check`` reports it (``splitter-arch-block``).
    """
    blocks = list(dict.fromkeys(line.placement.platform for line in lines
                                if line.placement.platform is not None))
    arches = list(file_lists)
    anchors = [line.placement for line in lines if line.placement.platform is None
               and all(line.placement.paths(arch) for arch in arches)]
    out = list(lines)
    for platform in blocks:
        own = platform.removeprefix("linux-")
        block = [line.placement.pattern for line in lines
                 if line.placement.platform == platform]
        for anchor in anchors:
            wanted = any_matcher([*block, anchor.pattern])
            if all({p for p in file_lists[arch] if wanted(p)} <= members.get(arch, set())
                   for arch in arches if arch != own):
                out.append(PathLine(Placement(anchor.pattern, platform,
                                              ((own, anchor.paths(own)),)), ANCHOR_COMMENT))
                break
    return tuple(out)


def _payload_notes(rpm: RpmPackage) -> list[str]:
    """A note when the payload has unsafe or inconsistent entries: the builder refuses
    the whole package then, whatever the SDF selects."""
    if not rpm.problems:
        return []
    first = rpm.problems[0]
    more = f" (and {len(rpm.problems) - 1} more)" if len(rpm.problems) > 1 else ""
    return [f"{rpm.nevra}: payload entry {first.entry!r}: {first.problem}{more}; "
            "never used, and the builder refuses this package"]


def _comment(plan: SlicePlan, placement: Placement) -> str | None:
    comments: list[str] = []
    selected = {path for _arch, paths in placement.selects for path in paths}
    if len(selected) == 1 and is_glob(literal := next(iter(selected))) and \
            placement.pattern == question_marked(literal):
        # A literal path with glob characters in its name, written with '?' for them
        # (``/usr/bin/?`` for coreutils' ``[``): say which file it is.
        comments.append(f"the file {literal} ('?' stands for its glob characters)")
    for arch, paths in placement.selects:
        for path in paths:
            text = plan.choices[arch][path].comment
            if text and text not in comments:
                comments.append(text)
    if not comments:
        return None
    return comments[0] + (f" (+{len(comments) - 1} more)" if len(comments) > 1 else "")


def _cyclic_opens(plan: SlicePlan, by_arch: Mapping[str, ArchFacts]) -> set[Need]:
    """The package's own opened-path needs that would close a ring of its slices.

    glibc's libc.so.6 names gconv-modules.cache, whose ``gconv`` slice NEEDs libc.so.6:
    a dep back would be a cycle chisel refuses, and libc works without the cache. Every
    other kind of need is kept; an opened path is dropped when its target slice already
    reaches the opening one.
    """
    graph: dict[str, set[str]] = {}
    opens: list[tuple[str, str, str, Need]] = []
    for arch in plan.arches:
        choices = plan.choices[arch]
        for need in by_arch[arch].needs:
            if need.package != plan.package or need.path is None:
                continue
            source, target = plan.slice_of(arch, need.needed_by), plan.slice_of(arch, need.path)
            if source is None or target is None or source == target:
                continue
            if need.kind == "opens":
                opens.append((source, target, arch, need))
            elif need.kind != "script" or _runs(choices.get(need.needed_by)):
                graph.setdefault(source, set()).add(target)
    skipped: set[Need] = set()
    for source, target, _arch, need in sorted(opens, key=lambda o: (o[0], o[1], o[2],
                                                                    o[3].needed_by, o[3].what)):
        if _reaches(graph, target, source):
            skipped.add(need)
        else:
            graph.setdefault(source, set()).add(target)
    return skipped


def _reaches(graph: Mapping[str, set[str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _deps(plan: SlicePlan, name: str, members: Mapping[str, set[str]],
          by_arch: Mapping[str, ArchFacts], locate: Locate, notes: list[str],
          unresolved: dict[str, list[str]], skipped: set[Need] | frozenset[Need] = frozenset()
          ) -> tuple[ProposedDep, ...]:
    """The slice's deps, merged over arches, each with its reasons."""
    found: dict[str, dict[str, list[str]]] = {}  # ref -> arch -> reasons
    dep_notes: dict[str, str] = {}
    for arch in plan.arches:
        choices = plan.choices[arch]
        for need in sorted(by_arch[arch].needs, key=lambda n: (
                _rank(choices.get(n.needed_by)), n.needed_by, n.kind, n.what)):
            if need.needed_by not in members[arch]:
                continue
            if need in skipped:
                continue
            if need.kind == "script" and not _runs(choices.get(need.needed_by)):
                # Library code with a shebang (the stdlib's base64.py) is imported, not run:
                # scripts depend on their interpreter, never a library on it.
                continue
            if need.package is None or need.path is None:
                unresolved.setdefault(f"{_reason(need)}: no provider found", []).append(arch)
                continue
            if need.package == plan.package:
                target = plan.slice_of(arch, need.path)
                if target is None:
                    unresolved.setdefault(f"{_reason(need)}: {need.path} is left out of "
                                          "every slice", []).append(arch)
                    continue
                if target == name:
                    continue
                located = Located(f"{plan.package}_{target}")
            else:
                located = locate(need.package, need.path, arch)
            if located.ref is None:
                unresolved.setdefault(f"{_reason(need)}: {located.note or 'no slice'}",
                                      []).append(arch)
                continue
            found.setdefault(located.ref, {}).setdefault(arch, []).append(_reason(need))
            if located.note:
                dep_notes.setdefault(located.ref, located.note)
                notes.append(located.note)
    deps = []
    for ref in sorted(found):
        per_arch = found[ref]
        reasons = list(dict.fromkeys(r for arch in plan.arches for r in per_arch.get(arch, [])))
        on = tuple(arch for arch in plan.arches if arch in per_arch)
        deps.append(ProposedDep(ref, reasons[0], len(reasons) - 1,
                                () if len(on) == len(plan.arches) else on, dep_notes.get(ref)))
    return tuple(deps)


def _runs(choice: FileChoice | None) -> bool:
    """Whether the file is a program (its shebang then names what runs it)."""
    return choice is not None and choice.role in (Role.BINS, Role.SCRIPTS)


def _rank(choice: FileChoice | None) -> int:
    """Shared libraries first: their needs make the clearest reason for a dep."""
    return 0 if choice is not None and choice.role is Role.LIBS else 1


def _group(choice: FileChoice) -> tuple[str, str | None]:
    """The heading a left-out file is listed under, and a per-file detail."""
    decision = choice.decision
    if decision.source == "model":
        return "the model decided left-out", decision.reason
    reason = decision.reason
    if reason.startswith("development symlink"):
        return "development symlink", reason.removeprefix("development symlink ")
    if " (model unsure" in reason:
        head, _, tail = reason.partition(" (")
        return f"{head} (uncertain)", tail.rstrip(")")
    return reason, None


def _left_out(plan: SlicePlan) -> tuple[LeftOut, ...]:
    where: dict[tuple[str, str, str | None], list[str]] = {}
    for arch in plan.arches:
        for path, choice in plan.choices[arch].items():
            if choice.slice is None:
                group, detail = _group(choice)
                where.setdefault((path, group, detail), []).append(arch)
    result = []
    for (path, group, detail), on in where.items():
        arches = () if len(on) == len(plan.arches) else tuple(on)
        result.append(LeftOut(path, group, detail, arches))
    return tuple(sorted(result, key=lambda item: (item.group, item.path)))
