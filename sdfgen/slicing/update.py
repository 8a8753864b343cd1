"""``sdfgen propose --update``: merge a fresh proposal into a human's SDF, keeping their work.

The human's slices, names, order, comments and deps stay as they are. What changes:

- a proposed pattern that selects a file no pattern of the SDF selects (on some arch) is
  added -- to the human slice that already holds most of the proposal slice's other files
  (so a renamed slice keeps receiving them), else to the slice of the proposed name
  (created at the end, with the proposal's deps, when the SDF has none of that name);
- a pattern of the SDF that selects nothing on an arch where it applies is reported as
  vanished (not removed: the human decides).

Editing goes through :mod:`sdfgen.sdf.document` (ruamel.yaml round trip), so an SDF with
nothing to add dumps byte-identically. An SDF with a repeated key is refused (SdfError):
the round trip would keep only one of the two blocks.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sdfgen.errors import SdfError
from sdfgen.sdf.document import add_dep, add_path, add_slice, dump_document, load_document
from sdfgen.sdf.globs import Reading, matches
from sdfgen.sdf.model import Sdf, patterns_for, sdf_from_document
from sdfgen.slicing.proposal import Proposal


@dataclass(frozen=True)
class UpdateResult:
    """The old and new text of an SDF, what was added and which patterns vanished."""

    path: Path
    old: str
    new: str
    added: tuple[str, ...]  # "slices.libs: /usr/lib/*-linux-gnu/libfoo.so.*"
    vanished: tuple[str, ...]  # "slices.libs: /usr/lib64/libold.so.* matches nothing on x86_64"

    @property
    def changed(self) -> bool:
        """Whether the file's text would change."""
        return self.old != self.new

    def diff(self) -> str:
        """A unified diff from the old text to the new."""
        name = str(self.path)
        return "".join(difflib.unified_diff(self.old.splitlines(keepends=True),
                                            self.new.splitlines(keepends=True),
                                            fromfile=f"a/{name}", tofile=f"b/{name}"))


def _selected(sdf: Sdf, arch: str, path: str) -> str | None:
    for name, slice_def in sdf.slices.items():
        for rule in patterns_for(slice_def, arch):
            if matches(rule.pattern, path, Reading.SPLITTER):
                return name
    return None


def update_sdf(path: Path, proposal: Proposal) -> UpdateResult:
    """Merge ``proposal`` into the SDF at ``path`` (not written; see :class:`UpdateResult`)."""
    doc = load_document(path)
    if doc.duplicates:
        # ruamel keeps one of the repeated keys: re-emitting would silently drop the
        # other block, the human's work. Refuse; ``sdfgen check`` shows every one.
        dup = doc.duplicates[0]
        raise SdfError(f"{path}:{dup.line}: key {dup.key!r} repeats line {dup.first_line}; "
                       "--update would drop one of them: merge them first (sdfgen check)")
    sdf = sdf_from_document(doc)
    added: list[str] = []
    for proposed in proposal.slices:
        # Where the human keeps this proposal slice's files today: a vote over its files.
        votes: Counter[str] = Counter()
        missing = []
        for line in proposed.paths:
            placement = line.placement
            uncovered = False
            for arch, paths in placement.selects:
                for file_path in paths:
                    holder = _selected(sdf, arch, file_path)
                    if holder is None:
                        uncovered = True
                    else:
                        votes[holder] += 1
            if uncovered:
                missing.append(placement)
        if not missing:
            continue
        target = _target(votes, proposed.name, sdf)
        if target not in sdf.slices:
            add_slice(doc, target)
            for dep in proposed.deps:
                add_dep(doc, target, dep.ref)
        for placement in missing:
            only = placement.platform.removeprefix("linux-") if placement.platform else None
            if add_path(doc, target, placement.pattern, only):
                where = f"extra.{placement.platform}" if placement.platform else "common"
                added.append(f"slices.{target}.{where}: {placement.pattern}")
    vanished = _vanished(sdf, proposal)
    return UpdateResult(Path(path), doc.source, dump_document(doc), tuple(added), vanished)


def _target(votes: Counter[str], proposed: str, sdf: Sdf) -> str:
    if votes:
        # Most files first; ties by the SDF's slice order, which is the human's.
        order = {name: index for index, name in enumerate(sdf.slices)}
        return min(votes, key=lambda name: (-votes[name], order.get(name, len(order))))
    return proposed


def _vanished(sdf: Sdf, proposal: Proposal) -> tuple[str, ...]:
    result = []
    for name, slice_def in sdf.slices.items():
        for arch in proposal.arches:
            paths = proposal.file_lists.get(arch, ())
            for rule in patterns_for(slice_def, arch):
                if not any(matches(rule.pattern, p, Reading.SPLITTER) for p in paths):
                    line = f" (line {rule.line})" if rule.line else ""
                    result.append(f"slices.{name}: {rule.pattern}{line} matches nothing "
                                  f"on {arch}")
    return tuple(dict.fromkeys(result))

