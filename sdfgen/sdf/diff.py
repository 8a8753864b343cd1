"""``sdfgen diff``: the semantic difference of two SDFs.

Compares the models, not the text: slices added, removed or renamed (a removed and an
added slice with the same non-empty path rules), deps and path rules added or removed
per slice, and, given the repository's packages, which files each slice selects before
and after on each arch (read as splitter reads globs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sdfgen.facts import FileKind
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, SliceDef, patterns_for

if TYPE_CHECKING:
    from sdfgen.rpm.session import PackageSource

Rule = tuple[str, str]  # (where: "common" or "linux-ARCH", pattern)


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
        }


def _rules(slice_def: SliceDef) -> tuple[Rule, ...]:
    rules = [("common", rule.pattern) for rule in slice_def.common]
    for platform, platform_rules in slice_def.extra.items():
        rules.extend((platform, rule.pattern) for rule in platform_rules)
    return tuple(dict.fromkeys(rules))


def _minus(first: tuple[str, ...] | tuple[Rule, ...], second: object) -> tuple:  # type: ignore[type-arg]
    other = set(second)  # type: ignore[call-overload]
    return tuple(item for item in first if item not in other)


def diff_sdfs(old: Sdf, new: Sdf) -> SdfDiff:
    """The model-level difference of ``old`` and ``new`` (no repository needed)."""
    old_top = tuple(str(ref) for ref in old.deps)
    new_top = tuple(str(ref) for ref in new.deps)
    removed = [name for name in old.slices if name not in new.slices]
    added = [name for name in new.slices if name not in old.slices]
    renamed: list[tuple[str, str]] = []
    for old_name in list(removed):
        rules = set(_rules(old.slices[old_name]))
        if not rules:
            continue
        match = next((n for n in added if set(_rules(new.slices[n])) == rules), None)
        if match is not None:
            renamed.append((old_name, match))
            removed.remove(old_name)
            added.remove(match)
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
                   tuple(added), tuple(removed), tuple(renamed), tuple(changed))


def selection_changes(result: SdfDiff, old: Sdf, new: Sdf, packages: PackageSource,
                      arches: tuple[str, ...]) -> SdfDiff:
    """``result`` with, per arch and slice, the files selected only after or only before."""
    old_names = {new_name: old_name for old_name, new_name in result.renamed}
    changes: list[SelectionChange] = []
    for arch in arches:
        old_rpm = packages.package(arch, old.package)
        new_rpm = packages.package(arch, new.package)
        old_paths = [e.path for e in old_rpm.files if e.kind is not FileKind.DIR] \
            if old_rpm else []
        new_paths = [e.path for e in new_rpm.files if e.kind is not FileKind.DIR] \
            if new_rpm else []
        names = list(new.slices) + [n for n in old.slices
                                    if n not in new.slices and n not in old_names.values()]
        for name in names:
            old_name = old_names.get(name, name)
            before = _selected(old.slices.get(old_name), arch, old_paths)
            after = _selected(new.slices.get(name), arch, new_paths)
            if before != after:
                changes.append(SelectionChange(name, arch, tuple(sorted(after - before)),
                                               tuple(sorted(before - after))))
    return replace(result, selections=tuple(changes))


def _selected(slice_def: SliceDef | None, arch: str, paths: list[str]) -> set[str]:
    if slice_def is None:
        return set()
    rules = patterns_for(slice_def, arch)
    return {path for path in paths if any(matches(rule.pattern, path) for rule in rules)}


def render_diff(result: SdfDiff) -> list[str]:
    """Human-readable lines of ``result`` ("no semantic change" when empty)."""
    lines: list[str] = []
    if result.old_package != result.new_package:
        lines.append(f"package: {result.old_package} -> {result.new_package}")
    lines += [f"+ top-level dep {ref}" for ref in result.top_deps_added]
    lines += [f"- top-level dep {ref}" for ref in result.top_deps_removed]
    lines += [f"+ slice {name}" for name in result.slices_added]
    lines += [f"- slice {name}" for name in result.slices_removed]
    lines += [f"~ slice {old} renamed to {new} (same paths)" for old, new in result.renamed]
    for change in result.changed:
        lines += [f"  {change.name}: + dep {ref}" for ref in change.deps_added]
        lines += [f"  {change.name}: - dep {ref}" for ref in change.deps_removed]
        lines += [f"  {change.name}: + path {p} ({w})" for w, p in change.rules_added]
        lines += [f"  {change.name}: - path {p} ({w})" for w, p in change.rules_removed]
    for selection in result.selections:
        lines.append(f"  {selection.slice} on {selection.arch}: "
                     f"+{len(selection.added)} -{len(selection.removed)} file(s)")
        lines += [f"      + {path}" for path in selection.added]
        lines += [f"      - {path}" for path in selection.removed]
    return lines or ["no semantic change"]
