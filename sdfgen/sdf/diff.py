"""``sdfgen diff``: the semantic difference of two SDFs.

Compares the models, not the text, and reads like a review: slices added, removed or
renamed (a removed and an added slice that select mostly the same files, or without a
repository the same rules), deps and path rules added or removed per slice, and, given
the repository's packages, which files each slice selects before and after on each arch
(read as splitter reads globs): a file that left one slice for another is one move, a
change that is the same on every arch is said once, and each slice's size in bytes
before and after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sdfgen.facts import FileKind
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, SliceDef, patterns_for

if TYPE_CHECKING:
    from sdfgen.rpm.session import PackageSource

Rule = tuple[str, str]  # (where: "common" or "linux-ARCH", pattern)
RENAME_OVERLAP = 0.5  # share of the files (or rules) two slices must have in common
_TRIPLET = re.compile(r"\b(?:x86_64|aarch64)-linux-gnu\b")


@dataclass(frozen=True)
class SliceChange:
    """What changed inside a slice present in both (``name`` is the new name)."""

    name: str
    deps_added: tuple[str, ...] = ()
    deps_removed: tuple[str, ...] = ()
    rules_added: tuple[Rule, ...] = ()
    rules_removed: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class SelectionChange:
    """Files a slice selects on ``arch`` only after (``added``) or only before."""

    slice: str
    arch: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Move:
    """A file selected by one slice before and by another after, on ``arch``."""

    path: str
    old_slice: str
    new_slice: str
    arch: str


@dataclass(frozen=True)
class SliceSize:
    """Bytes of the regular files a slice selects on ``arch``, before and after, and how
    many paths it selects."""

    slice: str
    arch: str
    before: int
    after: int
    files_before: int = 0
    files_after: int = 0


@dataclass(frozen=True)
class SdfDiff:
    """The whole semantic difference; empty tuples mean "no change" there."""

    old_package: str
    new_package: str
    top_deps_added: tuple[str, ...] = ()
    top_deps_removed: tuple[str, ...] = ()
    slices_added: tuple[str, ...] = ()
    slices_removed: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()  # (old name, new name)
    changed: tuple[SliceChange, ...] = ()
    selections: tuple[SelectionChange, ...] = ()
    moves: tuple[Move, ...] = ()
    sizes: tuple[SliceSize, ...] = ()
    overlaps: tuple[float, ...] = ()  # per rename: the share both select

    @property
    def is_empty(self) -> bool:
        """Whether the two SDFs mean the same."""
        return (self.old_package == self.new_package and not any((
            self.top_deps_added, self.top_deps_removed, self.slices_added,
            self.slices_removed, self.renamed, self.changed, self.selections)))

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of the difference."""
        return {
            "schema": "sdfgen-diff", "schema_version": 1,
            "package": {"old": self.old_package, "new": self.new_package},
            "top_deps": {"added": list(self.top_deps_added),
                         "removed": list(self.top_deps_removed)},
            "slices_added": list(self.slices_added),
            "slices_removed": list(self.slices_removed),
            "renamed": [{"old": old, "new": new} for old, new in self.renamed],
            "changed": [{"slice": c.name, "deps_added": list(c.deps_added),
                         "deps_removed": list(c.deps_removed),
                         "rules_added": [{"where": w, "pattern": p} for w, p in c.rules_added],
                         "rules_removed": [{"where": w, "pattern": p}
                                           for w, p in c.rules_removed]}
                        for c in self.changed],
            "selections": [{"slice": s.slice, "arch": s.arch, "added": list(s.added),
                            "removed": list(s.removed)} for s in self.selections],
            "moves": [{"path": m.path, "old_slice": m.old_slice, "new_slice": m.new_slice,
                       "arch": m.arch} for m in self.moves],
            "sizes": [{"slice": z.slice, "arch": z.arch, "before": z.before,
                       "after": z.after, "files_before": z.files_before,
                       "files_after": z.files_after} for z in self.sizes],
        }


def _rules(slice_def: SliceDef) -> tuple[Rule, ...]:
    rules = [("common", rule.pattern) for rule in slice_def.common]
    for platform, platform_rules in slice_def.extra.items():
        rules.extend((platform, rule.pattern) for rule in platform_rules)
    return tuple(dict.fromkeys(rules))


def _minus(first: tuple[str, ...] | tuple[Rule, ...], second: object) -> tuple:  # type: ignore[type-arg]
    other = set(second)  # type: ignore[call-overload]
    return tuple(item for item in first if item not in other)


Selected = Mapping[str, frozenset[tuple[str, str]]]  # slice -> {(arch, path)}


def diff_sdfs(old: Sdf, new: Sdf, selected: tuple[Selected, Selected] | None = None
              ) -> SdfDiff:
    """The model-level difference of ``old`` and ``new``. ``selected`` (old's and new's
    files per slice, from :func:`selections`) lets renames be found by the files two
    slices share, even when some moved; without it, by the rules they share."""
    old_top = tuple(str(ref) for ref in old.deps)
    new_top = tuple(str(ref) for ref in new.deps)
    removed = [name for name in old.slices if name not in new.slices]
    added = [name for name in new.slices if name not in old.slices]
    renamed: list[tuple[str, str]] = []
    overlaps: list[float] = []
    candidates = []
    for old_name in removed:
        for new_name in added:
            if selected is not None:
                mine: frozenset[object] = frozenset(selected[0].get(old_name, ()))
                theirs: frozenset[object] = frozenset(selected[1].get(new_name, ()))
            else:
                mine = frozenset(_rules(old.slices[old_name]))
                theirs = frozenset(_rules(new.slices[new_name]))
            if mine and theirs:
                share = len(mine & theirs) / len(mine | theirs)
                if share >= RENAME_OVERLAP:
                    candidates.append((share, old_name, new_name))
    for share, old_name, new_name in sorted(candidates, key=lambda c: -c[0]):
        if old_name in removed and new_name in added:
            renamed.append((old_name, new_name))
            overlaps.append(share)
            removed.remove(old_name)
            added.remove(new_name)
    pairs = [(name, name) for name in new.slices if name in old.slices] + renamed
    changed: list[SliceChange] = []
    for old_name, new_name in pairs:
        before, after = old.slices[old_name], new.slices[new_name]
        old_deps = tuple(str(ref) for ref in before.deps)
        new_deps = tuple(str(ref) for ref in after.deps)
        change = SliceChange(new_name, _minus(new_deps, old_deps), _minus(old_deps, new_deps),
                             _minus(_rules(after), _rules(before)),
                             _minus(_rules(before), _rules(after)))
        if change != SliceChange(new_name):
            changed.append(change)
    return SdfDiff(old.package, new.package, _minus(new_top, old_top), _minus(old_top, new_top),
                   tuple(added), tuple(removed), tuple(renamed), tuple(changed),
                   overlaps=tuple(overlaps))


def _payload(packages: PackageSource, arch: str, name: str) -> dict[str, int]:
    """Non-directory paths of ``name`` on ``arch`` and the bytes of the regular files."""
    rpm = packages.package(arch, name)
    if rpm is None:
        return {}
    return {e.path: (e.size if e.kind is FileKind.FILE else 0)
            for e in rpm.files if e.kind is not FileKind.DIR}


def selections(sdf: Sdf, packages: PackageSource, arches: Sequence[str]) -> Selected:
    """Per slice of ``sdf``, the (arch, path) pairs it selects in the repository."""
    out: dict[str, set[tuple[str, str]]] = {name: set() for name in sdf.slices}
    for arch in arches:
        paths = list(_payload(packages, arch, sdf.package))
        for name, slice_def in sdf.slices.items():
            out[name] |= {(arch, p) for p in _selected(slice_def, arch, paths)}
    return {name: frozenset(pairs) for name, pairs in out.items()}


def selection_changes(result: SdfDiff, old: Sdf, new: Sdf, packages: PackageSource,
                      arches: tuple[str, ...],
                      new_packages: PackageSource | None = None) -> SdfDiff:
    """``result`` with, per arch and slice, the files selected only after or only before,
    the files that moved between slices and every slice's size before and after.

    ``old`` is read against ``packages``, ``new`` against ``new_packages`` (default the
    same): a review compares each SDF with the build it was written for."""
    old_names = {new_name: old_name for old_name, new_name in result.renamed}
    changes: list[SelectionChange] = []
    moves: list[Move] = []
    sizes: list[SliceSize] = []
    for arch in arches:
        old_files = _payload(packages, arch, old.package)
        new_files = _payload(new_packages or packages, arch, new.package)
        names = list(new.slices) + [n for n in old.slices
                                    if n not in new.slices and n not in old_names.values()]
        before_of: dict[str, set[str]] = {}
        after_of: dict[str, set[str]] = {}
        for name in names:
            old_name = old_names.get(name, name)
            before_of[name] = _selected(old.slices.get(old_name), arch, list(old_files))
            after_of[name] = _selected(new.slices.get(name), arch, list(new_files))
            before, after = before_of[name], after_of[name]
            if before != after:
                changes.append(SelectionChange(name, arch, tuple(sorted(after - before)),
                                               tuple(sorted(before - after))))
            sizes.append(SliceSize(name, arch, sum(old_files.get(p, 0) for p in before),
                                   sum(new_files.get(p, 0) for p in after),
                                   len(before), len(after)))
        for name in names:
            for path in sorted(before_of[name] - after_of[name]):
                gainer = next((n for n in names if n != name and path in after_of[n]
                               and path not in before_of[n]), None)
                if gainer is not None:
                    moves.append(Move(path, old_names.get(name, name), gainer, arch))
    return replace(result, selections=tuple(changes), moves=tuple(moves), sizes=tuple(sizes))


def _selected(slice_def: SliceDef | None, arch: str, paths: list[str]) -> set[str]:
    if slice_def is None:
        return set()
    rules = patterns_for(slice_def, arch)
    return {path for path in paths if any(matches(rule.pattern, path) for rule in rules)}


def fold_path(path: str) -> str:
    """``path`` with an arch triplet read as ``*-linux-gnu`` (one line for both arches)."""
    return _TRIPLET.sub("*-linux-gnu", path)


def on_arches(arches: Sequence[str], every: Sequence[str]) -> str:
    """``arches`` as words: "x86_64 and aarch64" when they are all of ``every``."""
    if len(arches) == len(every) and len(every) > 1:
        return " and ".join(arches) if len(arches) == 2 else ", ".join(arches)
    return ", ".join(arches)


def render_diff(result: SdfDiff, arches: Sequence[str] = ()) -> list[str]:
    """Review lines of ``result`` ("no semantic change" when empty): what was renamed,
    moved, added and removed, each change said once for the arches it holds on."""
    lines: list[str] = []
    if result.old_package != result.new_package:
        lines.append(f"package: {result.old_package} -> {result.new_package}")
    lines += [f"+ top-level dep {ref}" for ref in result.top_deps_added]
    lines += [f"- top-level dep {ref}" for ref in result.top_deps_removed]
    lines += [f"+ slice {name}" for name in result.slices_added]
    lines += [f"- slice {name}" for name in result.slices_removed]
    for index, (old, new) in enumerate(result.renamed):
        share = result.overlaps[index] if index < len(result.overlaps) else 1.0
        how = "same paths" if share == 1.0 else f"{share:.0%} of its selection in common"
        lines.append(f"~ slice {old} renamed to {new} ({how})")
    for change in result.changed:
        lines += [f"  {change.name}: + dep {ref}" for ref in change.deps_added]
        lines += [f"  {change.name}: - dep {ref}" for ref in change.deps_removed]
        lines += [f"  {change.name}: + path {p} ({w})" for w, p in change.rules_added]
        lines += [f"  {change.name}: - path {p} ({w})" for w, p in change.rules_removed]
    every = list(arches) or list(dict.fromkeys(
        [s.arch for s in result.selections] + [z.arch for z in result.sizes]))
    lines += _render_moves(result.moves, every)
    lines += _render_selections(result, every)
    return (lines or ["no semantic change"]) + _render_sizes(result.sizes, every)


def _render_moves(moves: Sequence[Move], every: Sequence[str]) -> list[str]:
    grouped: dict[tuple[str, str, str], list[str]] = {}
    shown: dict[tuple[str, str, str], str] = {}
    for move in moves:
        key = (fold_path(move.path), move.old_slice, move.new_slice)
        grouped.setdefault(key, []).append(move.arch)
        shown.setdefault(key, move.path)
    out = []
    for key, on in grouped.items():
        path = key[0] if len(on) > 1 else shown[key]
        out.append(f"  moved {path} from slice {key[1]} to slice {key[2]}"
                   f" (on {on_arches(on, every)})")
    return out


def _render_selections(result: SdfDiff, every: Sequence[str]) -> list[str]:
    moved = {(m.arch, m.path) for m in result.moves}
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for selection in result.selections:
        added = tuple(fold_path(p) for p in selection.added if (selection.arch, p) not in moved)
        removed = tuple(fold_path(p) for p in selection.removed
                        if (selection.arch, p) not in moved)
        if added or removed:
            grouped.setdefault((selection.slice, added, removed), []).append(selection.arch)
    out = []
    for (name, added, removed), on in grouped.items():
        out.append(f"  {name} on {on_arches(on, every)}: +{len(added)} -{len(removed)} file(s)")
        out += [f"      + {path}" for path in added]
        out += [f"      - {path}" for path in removed]
    return out


def _render_sizes(sizes: Sequence[SliceSize], every: Sequence[str]) -> list[str]:
    if not sizes:
        return []
    grouped: dict[tuple[str, int, int], list[str]] = {}
    for size in sizes:
        grouped.setdefault((size.slice, size.before, size.after), []).append(size.arch)
    out = ["  bytes per slice (before -> after):"]
    for (name, before, after), on in grouped.items():
        delta = after - before
        change = f" ({delta:+,})" if delta else " (same)"
        out.append(f"      {name} on {on_arches(on, every)}: {before:,} -> {after:,}{change}")
    return out
