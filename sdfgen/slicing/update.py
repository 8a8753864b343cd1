"""``sdfgen propose --update``: carry a new build of a package into a human's SDF.

An SDF a human reviewed is a set of decisions: which file goes into which slice, under
which name, with which comment, and which files stay out. ``--update`` keeps all of
them and acts only on what the package changed since the build the SDF was written for
(its header, :mod:`sdfgen.slicing.header`):

- a file that build did not have and that no slice selects (a *fresh* file) goes where
  the proposal would put it, but into the human's slice: the one holding the other
  files of the proposal's glob, else its siblings (same directory), else the slice of
  the proposal's name (created, with the deps every slice shares, only for a directory
  that is new as a whole). A fresh file whose siblings were all left out stays out too.
  It is inserted after its siblings' pattern with a comment, with deps for its needs;
- a pattern that selected files of that build and selects nothing now is commented out
  (``# /path:  # not in VERSION``); one that never selected anything is reported;
- the header names the new build; a note "no SDF for X in --sdf-dir; assumed X_libs" is
  dropped once X's SDF exists (and the dep fixed when X names that slice otherwise).

Nothing else changes: a path or slice the human removed never comes back, and no path is
put into a second slice. Editing goes through :mod:`sdfgen.sdf.document` (ruamel.yaml
round trip), so an SDF with nothing to change dumps byte-identically. Pure: the caller
(``sdfgen.slicing.baseline``) reads the old build and the needs.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sdfgen.errors import SdfError
from sdfgen.sdf.document import (
    Document,
    add_slice,
    append_dep,
    dump_document,
    insert_path,
    load_document,
    parse_document,
)
from sdfgen.sdf.globs import Reading, agrees, is_glob, select
from sdfgen.sdf.model import PathRule, Sdf, patterns_for, sdf_from_document
from sdfgen.slicing.header import (
    Header,
    dir_digests,
    dir_key,
    header_lines,
    is_header_line,
    leading_comments,
    parse_header,
    refresh_header,
)
from sdfgen.slicing.proposal import ANCHOR_COMMENT, Locate, Need, Proposal, ProposedSlice

NeedsOf = Callable[[str, str], tuple[Need, ...]]  # (arch, path) -> the file's needs
_TRIPLET = re.compile(r"/(?:x86_64|aarch64)-linux-gnu/")
_ASSUMED = re.compile(r"^\s*# no SDF for (\S+) in --sdf-dir; assumed (\S+)\s*$")
_DEP_LINE = re.compile(r"^(\s*- )(\S+)(.*)$")


@dataclass(frozen=True)
class Baseline:
    """The build the SDF was written for: its header, and per arch every payload path of
    it when the repositories still hold it."""

    header: Header = field(default_factory=Header)
    files: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateInputs:
    """What the merge needs besides the SDF and the proposal (see ``baseline``)."""

    baseline: Baseline = field(default_factory=Baseline)
    dirs: Mapping[str, frozenset[str]] = field(default_factory=dict)  # new build's dirs
    needs: NeedsOf | None = None
    locate: Locate | None = None
    universe: Mapping[str, Sdf] = field(default_factory=dict)  # the SDFs of --sdf-dir


@dataclass(frozen=True)
class UpdateResult:
    """The old and new text of an SDF and what changed, for the reviewer."""

    path: Path
    old: str
    new: str
    added: tuple[str, ...] = ()  # "slices.libs.common: /usr/lib/x/libnew.so.1 (beside ...)"
    vanished: tuple[str, ...] = ()  # "slices.libs: /usr/lib64/libold.so.* matches nothing ..."
    notes: tuple[str, ...] = ()  # dropped patterns, fixed deps, fresh files left out
    stale_header: str | None = None  # why the header no longer names the build

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


def update_sdf(path: Path, proposal: Proposal,
               inputs: UpdateInputs | None = None) -> UpdateResult:
    """Merge ``proposal`` into the SDF at ``path`` (not written; see :class:`UpdateResult`).

    Raises :class:`SdfError` for an SDF with a repeated key: the round trip would keep
    only one of the two blocks, the human's work."""
    doc = load_document(path)
    if doc.duplicates:
        dup = doc.duplicates[0]
        raise SdfError(f"{path}:{dup.line}: key {dup.key!r} repeats line {dup.first_line}; "
                       "--update would drop one of them: merge them first (sdfgen check)")
    return _Merge(Path(path), doc, proposal, inputs or UpdateInputs()).run()


class _Merge:
    """One merge: the document being edited and what is known of both builds."""

    def __init__(self, path: Path, doc: Document, proposal: Proposal,
                 inputs: UpdateInputs) -> None:
        self.path = path
        self.doc = doc
        self.proposal = proposal
        self.inputs = inputs
        self.sdf = sdf_from_document(doc)
        self.header = inputs.baseline.header
        self.arches = proposal.arches
        self.lists = {arch: tuple(proposal.file_lists.get(arch, ())) for arch in self.arches}
        dirs = inputs.dirs
        self.files = {arch: [p for p in self.lists[arch] if p not in dirs.get(arch, ())]
                      for arch in self.arches}
        self.siblings: dict[str, dict[str, list[str]]] = {}
        for arch in self.arches:
            by_dir = self.siblings.setdefault(arch, {})
            for file_path in self.files[arch]:
                by_dir.setdefault(posixpath.dirname(file_path), []).append(file_path)
        self.holder = {arch: self._holders(arch) for arch in self.arches}
        self.added: list[str] = []
        self.notes: list[str] = []
        self.unsure: dict[str, set[str]] = {}  # directory -> files (on any arch)
        self._created: set[str] = set()
        self.new = {arch: self._new_files(arch) for arch in self.arches}

    # -- what is new ---------------------------------------------------------------------

    def _holders(self, arch: str) -> dict[str, str]:
        held: dict[str, str] = {}
        for name, slice_def in self.sdf.slices.items():
            for rule in patterns_for(slice_def, arch):
                for file_path in select(rule.pattern, self.files[arch], Reading.SPLITTER):
                    held.setdefault(file_path, name)
        return held

    def _new_files(self, arch: str) -> set[str]:
        """Files of the new build its old build lacked (per the header)."""
        old = self.header.nevras.get(arch)
        now = dict(self.proposal.nevras).get(arch)
        if old is None or old == now:
            return set()  # no record of the old build (nothing counts as new), or the same
        known = self.inputs.baseline.files.get(arch)
        if known is not None:
            return {p for p in self.files[arch] if p not in known}
        digests = self.header.digests.get(arch)
        if not digests:
            self.notes.append(f"{arch}: the files of {old} are neither in the repositories "
                              "nor in the header; no file counted as new")
            return set()
        current = dir_digests(self.lists[arch])
        fresh = set()
        for file_path in self.files[arch]:
            key = dir_key(file_path)
            if key not in digests:
                fresh.add(file_path)  # a directory the old build did not have
            elif digests[key] != current.get(key) and file_path not in self.holder[arch]:
                where = posixpath.dirname(file_path) + "/"
                self.unsure.setdefault(where, set()).add(file_path)
        return fresh

    def _fresh(self, arch: str, paths: tuple[str, ...]) -> list[str]:
        return [p for p in paths if p in self.new[arch] and p not in self.holder[arch]]

    # -- the merge ------------------------------------------------------------------------

    def run(self) -> UpdateResult:
        left_alone: dict[str, set[str]] = {}
        for proposed in self.proposal.slices:
            for line in proposed.paths:
                if line.comment == ANCHOR_COMMENT:
                    continue  # the common line it repeats is placed on its own
                placement = line.placement
                fresh = {arch: self._fresh(arch, paths) for arch, paths in placement.selects}
                if not any(fresh.values()):
                    continue
                target, why = self._target(placement.selects, fresh, proposed)
                if target is None:
                    for paths in fresh.values():
                        for file_path in paths:
                            where = posixpath.dirname(file_path) + "/"
                            left_alone.setdefault(where, set()).add(file_path)
                    continue
                self._place(target, why, placement.pattern, placement.platform,
                            placement.selects, fresh, line.comment, proposed)
        for where, alone in sorted(left_alone.items()):
            self.notes.append(f"{where}: {len(alone)} new file(s) left out, like the other files "
                              "there (no slice holds them)")
        for where, maybe in sorted(self.unsure.items()):
            self.notes.append(f"{where}: {len(maybe)} file(s) in no slice may be new (the old "
                              "build's list is gone from the repositories; the header keeps "
                              "only a digest): review them")
        self._fresh_left_out()
        text = dump_document(self.doc)
        text, vanished = self._dropped(text)
        text = self._stale_notes(text)
        text, stale = self._header(text)
        return UpdateResult(self.path, self.doc.source, text, tuple(self.added),
                            tuple(vanished), tuple(self.notes), stale)

    def _target(self, selects: tuple[tuple[str, tuple[str, ...]], ...],
                fresh: dict[str, list[str]], proposed: ProposedSlice) -> tuple[str | None, str]:
        """The human's slice for ``fresh`` files, and why; (None, "") to leave them out."""
        family: Counter[str] = Counter(
            self.holder[arch][p] for arch, paths in selects for p in paths
            if p not in fresh[arch] and p in self.holder[arch])
        if family:
            return self._vote(family, proposed.name), "with the other files of its glob"
        siblings: Counter[str] = Counter()
        old_siblings = False
        for arch, paths in fresh.items():
            for file_path in paths:
                for sibling in self.siblings[arch].get(posixpath.dirname(file_path), ()):
                    if sibling in self.holder[arch]:
                        siblings[self.holder[arch][sibling]] += 1
                    elif sibling not in self.new[arch]:
                        old_siblings = True
        if siblings:
            where = posixpath.dirname(next(p for ps in fresh.values() for p in ps))
            return self._vote(siblings, proposed.name), f"beside its siblings in {where}/"
        if old_siblings:
            return None, ""  # the human (or propose) left the old ones out: so these
        return proposed.name, "a new directory"

    def _vote(self, votes: Counter[str], proposed: str) -> str:
        order = {name: index for index, name in enumerate(self.sdf.slices)}
        best = max(votes.values())
        tied = [name for name, count in votes.items() if count == best]
        if proposed in tied:
            return proposed
        return min(tied, key=lambda name: order.get(name, len(order)))

    def _place(self, target: str, why: str, pattern: str, platform: str | None,
               selects: tuple[tuple[str, tuple[str, ...]], ...], fresh: dict[str, list[str]],
               comment: str | None, proposed: ProposedSlice) -> None:
        creating = target not in self.sdf.slices and target not in self._created
        if creating:
            add_slice(self.doc, target)
            self._created.add(target)
            for ref in self._shared_deps():
                append_dep(self.doc, target, ref, "every slice of this SDF has it")
        evr = self._evr()
        note = f"new in {evr}; {why}" + (f"; {comment}" if comment else "")
        whole = all(set(paths) <= set(fresh.get(arch, ())) for arch, paths in selects)
        if whole:
            rules = [(pattern, platform.removeprefix("linux-") if platform else None)]
        else:
            rules = self._literals(fresh)
        for rule, arch in rules:
            after = self._after(target, rule, arch)
            if insert_path(self.doc, target, rule, arch, after=after, comment=note):
                where = f"extra.linux-{arch}" if arch else "common"
                self.added.append(f"slices.{target}.{where}: {rule} ({note})")
                if arch is not None:
                    self._anchor(target, arch)
        for arch, paths in fresh.items():
            for file_path in paths:
                self.holder[arch][file_path] = target
        self._deps(target, fresh)

    def _literals(self, fresh: dict[str, list[str]]) -> list[tuple[str, str | None]]:
        """Patterns for exactly the fresh files: one per file, folded over the arches
        (``*-linux-gnu``) where that selects the same fresh files on every arch."""
        rules: list[tuple[str, str | None]] = []
        done: set[tuple[str, str]] = set()
        for arch, paths in fresh.items():
            for file_path in paths:
                if (arch, file_path) in done:
                    continue
                folded = _literal(_TRIPLET.sub("/*-linux-gnu/", file_path))
                chosen = [(a, select(folded, self.lists[a])) for a in self.arches]
                if all(hits and hits <= set(fresh.get(a, ())) and agrees(folded, self.lists[a])
                       for a, hits in chosen):
                    rules.append((folded, None))
                    done |= {(a, p) for a, hits in chosen for p in hits}
                    continue
                own = _literal(file_path)
                rules.append((own, None if len(self.arches) == 1 else arch))
                done.add((arch, file_path))
        return rules

    def _after(self, target: str, rule: str, arch: str | None) -> str | None:
        """The pattern of ``target``'s block to insert after: the last one selecting a
        file in ``rule``'s directory (so new lines sit with their siblings)."""
        slice_def = self._model().slices.get(target)
        if slice_def is None:
            return None
        block = slice_def.extra.get(f"linux-{arch}", ()) if arch else slice_def.common
        directory = posixpath.dirname(rule)
        after = None
        for existing in block:
            arches = (arch,) if arch else self.arches
            if any(posixpath.dirname(p) == directory or existing.pattern.startswith(directory)
                   for a in arches for p in select(existing.pattern, self.files[a])):
                after = existing.pattern
        return after

    def _anchor(self, target: str, arch: str) -> None:
        """Give a new ``extra.linux-ARCH`` block a common pattern of its slice: splitter
        runs every block on every arch, and one that selects nothing there makes it
        extract the whole package (``sdfgen check``: ``splitter-arch-block``)."""
        slice_def = self._model().slices[target]
        block = slice_def.extra.get(f"linux-{arch}", ())
        common = [rule.pattern for rule in slice_def.common]
        if len(self.arches) < 2 or any(rule.pattern in common for rule in block):
            return
        for pattern in common:
            if all(select(pattern, self.files[a]) for a in self.arches):
                insert_path(self.doc, target, pattern, arch, comment=ANCHOR_COMMENT)
                return

    def _model(self) -> Sdf:
        return sdf_from_document(self.doc)

    def _shared_deps(self) -> list[str]:
        """Deps every other slice of the SDF has (its copyright slice, typically)."""
        package = self.sdf.package
        slices = list(self.sdf.slices.values())
        candidates = dict.fromkeys(str(ref) for s in slices for ref in s.deps)
        return [ref for ref in candidates
                if all(ref in {str(d) for d in s.deps} for s in slices
                       if f"{package}_{s.name}" != ref)]

    def _deps(self, target: str, fresh: dict[str, list[str]]) -> None:
        if self.inputs.needs is None:
            return
        package = self.sdf.package
        for arch, paths in fresh.items():
            for file_path in paths:
                for need in self.inputs.needs(arch, file_path):
                    ref = self._ref(need, arch, package)
                    if ref is None or ref == f"{package}_{target}":
                        continue
                    if ref not in self._closure(f"{package}_{target}"):
                        reason = f"{posixpath.basename(file_path)} {need.kind} {need.what}"
                        if append_dep(self.doc, target, ref, reason):
                            self.added.append(f"slices.{target}.deps: {ref} ({reason})")

    def _ref(self, need: Need, arch: str, package: str) -> str | None:
        if need.package is None or need.path is None:
            return None
        if need.package == package:
            holder = self.holder[arch].get(need.path)
            return f"{package}_{holder}" if holder else None
        if self.inputs.locate is None:
            return None
        return self.inputs.locate(need.package, need.path, arch).ref

    def _closure(self, start: str) -> set[str]:
        """Every ref ``start`` reaches through slice and top-level deps."""
        own = self._model()
        seen: set[str] = set()
        todo = [start]
        while todo:
            ref = todo.pop()
            if ref in seen:
                continue
            seen.add(ref)
            package, _, name = ref.rpartition("_")
            sdf = own if package == own.package else self.inputs.universe.get(package)
            if sdf is None or name not in sdf.slices:
                continue
            todo.extend(str(dep) for dep in (*sdf.slices[name].deps, *sdf.deps))
        return seen

    def _fresh_left_out(self) -> None:
        """Say which fresh files the proposal leaves out (docs, man pages), in short."""
        counts: Counter[tuple[str, str]] = Counter()
        for item in self.proposal.left_out:
            on = item.arches or self.arches
            if any(item.path in self.new.get(arch, ()) for arch in on):
                counts[(posixpath.dirname(item.path) + "/", item.group)] += 1
        for (where, group), count in sorted(counts.items()):
            self.notes.append(f"{where}: {count} new file(s) left out ({group})")

    # -- text edits after the round trip ---------------------------------------------------

    def _evr(self) -> str:
        header = parse_header(_nevra_text(self.proposal))
        return next((e for a in self.arches if (e := header.evr(a))), "the new build")

    def _dropped(self, text: str) -> tuple[str, list[str]]:
        """Comment out patterns whose files the package dropped; report other patterns
        that select nothing."""
        model = sdf_from_document(parse_document(text, self.path, editable=False))
        lines = text.splitlines(keepends=True)
        vanished: list[str] = []
        for name, slice_def in model.slices.items():
            rules: list[tuple[PathRule, tuple[str, ...]]] = [
                (rule, (arch,)) for platform, block in slice_def.extra.items()
                     for rule in block if (arch := platform.removeprefix("linux-")) in
                     self.arches]
            rules += [(rule, self.arches) for rule in slice_def.common]
            for rule, arches in rules:
                empty = [a for a in arches if not select(rule.pattern, self.lists[a])]
                if not empty:
                    continue
                gone = (len(empty) == len(arches) and rule.line and all(
                    select(rule.pattern, self.inputs.baseline.files.get(a, ()))
                    for a in arches))
                if gone and rule.line:
                    index = rule.line - 1
                    body = lines[index].rstrip("\n")
                    indent = body[:len(body) - len(body.lstrip())]
                    join = "; " if "#" in body else "  # "
                    lines[index] = (f"{indent}# {body.lstrip()}{join}not in {self._evr()} "
                                    "(sdfgen propose --update)\n")
                    self.notes.append(f"slices.{name}: {rule.pattern} commented out: its "
                                      f"files are not in {self._evr()}")
                    continue
                at = f" (line {rule.line})" if rule.line else ""
                vanished.append(f"slices.{name}: {rule.pattern}{at} matches nothing on "
                                f"{', '.join(empty)}")
        return "".join(lines), list(dict.fromkeys(vanished))

    def _stale_notes(self, text: str) -> str:
        """Drop "no SDF for X ...; assumed X_s" once X's SDF exists; when it names the
        slice otherwise, the dep below the note takes the proposal's ref instead."""
        lines = text.splitlines(keepends=True)
        out: list[str] = []
        for index, line in enumerate(lines):
            match = _ASSUMED.match(line)
            package = match.group(1) if match else None
            sdf = self.inputs.universe.get(package) if package else None
            if sdf is None:
                out.append(line)
                continue
            self.notes.append(f"dropped the note 'no SDF for {package}': its SDF exists now")
            nxt = _DEP_LINE.match(lines[index + 1]) if index + 1 < len(lines) else None
            if nxt is not None and nxt.group(2).rpartition("_")[2] not in sdf.slices:
                better = self._proposed_ref(package or "", nxt.group(3))
                if better is not None:
                    lines[index + 1] = f"{nxt.group(1)}{better}{nxt.group(3)}\n"
                    self.notes.append(f"dep {nxt.group(2)} -> {better} ({package}'s SDF "
                                      f"has no slice {nxt.group(2).rpartition('_')[2]!r})")
        return "".join(out)

    def _proposed_ref(self, package: str, comment: str) -> str | None:
        refs = {dep.ref: dep.reason for s in self.proposal.slices for dep in s.deps
                if dep.ref.rpartition("_")[0] == package}
        for ref, reason in refs.items():
            if reason and reason in comment:
                return ref
        return next(iter(refs)) if len(refs) == 1 else None

    def _header(self, text: str) -> tuple[str, str | None]:
        wanted = header_lines(self.proposal.nevras, self.lists)
        present = [line for line in leading_comments(text) if is_header_line(line)]
        if present == wanted:
            return text, None
        old = dict(self.header.nevras)
        now = dict(self.proposal.nevras)
        stale = None
        if not old:
            stale = "none named the build this SDF is for; now the repositories' are"
        elif old != now:
            stale = "; ".join(f"{arch}: header {old.get(arch, 'none')}, repositories "
                              f"{nevra}" for arch, nevra in now.items()
                              if old.get(arch) != nevra)
        return refresh_header(text, wanted), stale


def _nevra_text(proposal: Proposal) -> str:
    return "".join(f"# {arch}: {nevra}\n" for arch, nevra in proposal.nevras)


def _literal(path: str) -> str:
    """``path`` as a pattern that selects it: glob characters become ``?`` (``*`` in a
    folded triplet stays)."""
    head, sep, tail = path.partition("/*-linux-gnu/")
    if sep:
        return _literal(head) + sep + _literal(tail)
    return re.sub(r"[*?\[\]]", "?", path) if is_glob(path) or "]" in path else path
