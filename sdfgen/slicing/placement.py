"""Where a slice's paths go in the SDF (``common`` or ``extra.linux-ARCH``) and as which glob.

A path present on every arch goes to ``common``; an arch-only path to its arch's
``extra``. Globs are synthesised only where they cover variation:

- a multiarch triplet (``/usr/lib/x86_64-linux-gnu/libssl.so.3`` and its aarch64 twin ->
  ``/usr/lib/*-linux-gnu/libssl.so.3`` in ``common``; in a file name too, as Python's
  ``_ssl.cpython-311-*-linux-gnu.so``), only when it pairs paths of two or more arches;
- a whole directory tree the slice owns (``/usr/lib/*-linux-gnu/gconv/**``, tzdata's
  ``/usr/share/zoneinfo/Africa/**``): every file below it on every arch is meant for the
  slice, there are at least DIR_GLOB_MIN of them, and it is not a shared library, bin or
  other system-wide directory (a glob there would hide what the slice ships);
- a shared library's version (``libz.so.1`` and ``libz.so.1.2.13`` -> ``libz.so.*``, the
  corpus' way of writing libraries so that a soname bump needs no edit).

Every glob must select, on every arch it applies to, only files meant for this slice and
the same files under splitter's and chisel's readings (``sdfgen.sdf.globs``), checked against
the package's full file list of each arch; otherwise the literal paths are used. Literal
paths holding glob characters are written with ``?`` in their place when that selects
exactly the path, so that no reader takes ``[`` for a character class.

A package may hold tens of thousands of files: a glob is tried against the sorted paths
below its literal head only (:class:`PathIndex`), never against the whole list.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sdfgen.sdf.globs import Reading, is_glob, literal_head, matcher

_TRIPLET = re.compile(r"(?<=/)[a-z0-9_]+-linux-gnu[a-z0-9_]*(?=/|$)")
_NAME_TRIPLET = re.compile(r"(?<=-)[a-z0-9_]+-linux-gnu[a-z0-9_]*(?=\.)")
_VERSIONED = re.compile(r"^((?:lib|ld-)[^/]*?\.so)\.\d[\w.]*$")
DIR_GLOB_MIN = 8
# Directories never globbed whole: what they hold is shared by many packages and slices.
_SYSTEM_DIR = re.compile(
    r"^(?:/usr(?:/local)?)?/(?:lib\w*|s?bin|libexec|share|include|etc|var|opt)(?:/[^/]+)?$"
    r"|^/etc/[^/]+$"
)


@dataclass(frozen=True)
class Placement:
    """One pattern of a slice: where it goes and what it selects on each arch."""

    pattern: str
    platform: str | None  # None: contents.common; else "linux-x86_64" / "linux-aarch64"
    selects: tuple[tuple[str, tuple[str, ...]], ...]  # (arch, sorted paths) per arch

    def paths(self, arch: str) -> tuple[str, ...]:
        """The paths this pattern selects on ``arch``."""
        return dict(self.selects).get(arch, ())


class PathIndex:
    """One arch's payload paths, sorted, so that a glob is matched against the paths
    below its literal head only (the others cannot match under either reading)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.members = frozenset(paths)
        self.sorted = sorted(self.members)

    def under(self, prefix: str) -> Iterator[str]:
        """The paths starting with ``prefix``, in order."""
        start = bisect.bisect_left(self.sorted, prefix)
        return itertools.takewhile(lambda p: p.startswith(prefix),
                                   itertools.islice(self.sorted, start, None))

    def select(self, pattern: str) -> tuple[set[str], bool]:
        """Paths ``pattern`` selects under splitter's reading, and whether chisel agrees."""
        if not is_glob(pattern):
            return ({pattern} if pattern in self.members else set()), True
        candidates = list(self.under(literal_head(pattern)))
        by_splitter = matcher(pattern, Reading.SPLITTER)
        by_chisel = matcher(pattern, Reading.CHISEL)
        splitter = {p for p in candidates if by_splitter(p)}
        chisel = {p for p in candidates if by_chisel(p)}
        return splitter, splitter == chisel


def path_indexes(file_lists: Mapping[str, Sequence[str] | PathIndex]
                 ) -> dict[str, PathIndex]:
    """``file_lists`` with every arch's paths as a :class:`PathIndex` (built once: give
    the result to every :func:`place` call of one package)."""
    return {arch: paths if isinstance(paths, PathIndex) else PathIndex(paths)
            for arch, paths in file_lists.items()}


def _candidates(path: str, fold_triplet: bool) -> Iterator[tuple[str, str]]:
    """Globs for ``path``, most general first, each with what it covers."""
    directory, _, name = path.rpartition("/")
    versioned = _VERSIONED.match(name)
    folded_dir = _TRIPLET.sub("*-linux-gnu", directory) if fold_triplet else directory
    if versioned and folded_dir != directory:
        yield f"{folded_dir}/{versioned.group(1)}.*", "arch+version"
    if versioned:
        yield f"{directory}/{versioned.group(1)}.*", "version"
    if folded_dir != directory:
        yield f"{folded_dir}/{name}", "arch"
    folded_name = _NAME_TRIPLET.sub("*-linux-gnu", name) if fold_triplet else name
    if folded_name != name:
        yield f"{folded_dir}/{folded_name}", "arch"


def question_marked(path: str) -> str:
    """``path`` with each glob character of its name replaced by ``?``: the pattern
    proposals write for a file such as ``/usr/bin/[`` (``/usr/bin/?``)."""
    return re.sub(r"[\[\]*?]", "?", path)


def _escaped_literal(path: str, lists: Mapping[str, PathIndex]) -> str:
    """``path`` as a pattern that selects exactly itself under both readings."""
    if not is_glob(path):
        return path
    escaped = question_marked(path)
    for paths in lists.values():
        selected, agree = paths.select(escaped)
        if not agree or selected - {path}:
            return path  # nothing better: the checker will flag it
    return escaped


def place(members: Mapping[str, set[str]],
          file_lists: Mapping[str, Sequence[str] | PathIndex],
          arches: Sequence[str], dirs: Mapping[str, set[str]] | None = None
          ) -> tuple[Placement, ...]:
    """Patterns for a slice whose files on each arch are ``members[arch]``.

    ``file_lists`` holds every payload path of the package per arch (the universe a glob
    is checked against; :func:`path_indexes` of it saves re-indexing for every slice);
    ``dirs`` the directory entries among them, which a glob may select as well (a slice
    that ships a file makes its directory anyway). Returns placements sorted by
    (platform, pattern).
    """
    dirs = dirs or {arch: set() for arch in arches}
    file_lists = path_indexes(file_lists)
    wanted = {arch: set(members.get(arch, set())) | dirs[arch] for arch in arches}
    trees = _Trees(file_lists, dirs, arches)
    covered: dict[str, set[str]] = {arch: set() for arch in arches}
    fold = len(arches) > 1
    result: list[Placement] = []
    pending = sorted({(path, arch) for arch in arches for path in members.get(arch, set())})
    for path, arch in pending:
        if path in covered[arch]:
            continue
        candidates = [*trees.candidates(path, wanted, fold), *_candidates(path, fold)]
        valid = [placed for pattern, kind in candidates
                 if (placed := _try_glob(pattern, kind, wanted, covered, file_lists, arches,
                                         dirs)) is not None]
        literal = _literal(path, wanted, file_lists, arches)
        # One line in common beats one per arch: a common glob, else the common literal,
        # else an arch-only glob, else the literal.
        ranked = [p for p in valid if p.platform is None]
        ranked += [literal] if literal.platform is None else []
        ranked += valid + [literal]
        placement = ranked[0]
        for sel_arch, selected in placement.selects:
            covered[sel_arch].update(set(selected) - dirs[sel_arch])
        result.append(_without_dirs(placement, dirs))
    return tuple(sorted(result, key=lambda p: (p.platform or "", p.pattern)))


def _try_glob(pattern: str, kind: str, wanted: Mapping[str, set[str]],
              covered: Mapping[str, set[str]], file_lists: Mapping[str, PathIndex],
              arches: Sequence[str], dirs: Mapping[str, set[str]]) -> Placement | None:
    selects: dict[str, set[str]] = {}
    for arch in arches:
        selected, agree = file_lists[arch].select(pattern)
        if not agree or not selected <= wanted[arch] or selected & covered[arch]:
            return None
        if selected - dirs[arch]:
            selects[arch] = selected
    if kind.startswith("arch") and len(selects) < 2:
        return None  # a triplet glob that pairs nothing is no clearer than the path
    if not selects:
        return None
    platform = None if len(selects) == len(arches) else (
        f"linux-{next(iter(selects))}" if len(selects) == 1 else None)
    if platform is None and len(selects) != len(arches):
        return None  # selects on some but not all of 3+ arches: not expressible once
    return Placement(pattern, platform,
                     tuple((arch, tuple(sorted(selects[arch]))) for arch in arches
                           if arch in selects))


def _literal(path: str, wanted: Mapping[str, set[str]],
             file_lists: Mapping[str, PathIndex], arches: Sequence[str]) -> Placement:
    on = [arch for arch in arches if path in wanted[arch]]
    pattern = _escaped_literal(path, file_lists)
    platform = None if len(on) == len(arches) else f"linux-{on[0]}"
    if len(on) not in (1, len(arches)):
        # On some of 3+ arches: one placement per arch would be needed; keep the first
        # (sdfgen supports two arches, so this does not happen).
        on = on[:1]
    return Placement(pattern, platform, tuple((arch, (path,)) for arch in on))


def _without_dirs(placement: Placement, dirs: Mapping[str, set[str]]) -> Placement:
    """``placement`` listing the files it selects, not the directories."""
    return Placement(placement.pattern, placement.platform,
                     tuple((arch, tuple(p for p in paths if p not in dirs[arch]))
                           for arch, paths in placement.selects))


class _Trees:
    """Directory-tree glob candidates (``D/**``) for paths of a slice."""

    def __init__(self, file_lists: Mapping[str, PathIndex],
                 dirs: Mapping[str, set[str]], arches: Sequence[str]) -> None:
        self.file_lists = file_lists
        self.dirs = dirs
        self.arches = arches
        self._below: dict[tuple[str, str], set[str]] = {}
        # directory -> (owned whole by the slice, most files below it on one arch); the
        # slice's members do not change during one place() call.
        self._owned: dict[str, tuple[bool, int]] = {}

    def below(self, arch: str, directory: str) -> set[str]:
        """Non-directory paths below ``directory`` on ``arch``."""
        key = (arch, directory)
        if key not in self._below:
            dirs = self.dirs[arch]
            self._below[key] = {p for p in self.file_lists[arch].under(directory + "/")
                                if p not in dirs}
        return self._below[key]

    def _ownership(self, directory: str, folded: str,
                   wanted: Mapping[str, set[str]]) -> tuple[bool, int]:
        found = self._owned.get(directory)
        if found is None:
            count = 0
            for arch in self.arches:
                twin = directory if folded == directory else _twin(directory, arch)
                files = self.below(arch, twin) if twin else set()
                if not files <= wanted[arch]:
                    found = (False, 0)
                    break
                count = max(count, len(files))
            else:
                found = (True, count)
            self._owned[directory] = found
        return found

    def candidates(self, path: str, wanted: Mapping[str, set[str]],
                   fold: bool) -> Iterator[tuple[str, str]]:
        """``D/**`` for the shortest ancestor ``D`` of ``path`` the slice owns whole."""
        parts = path.split("/")
        for depth in range(3, len(parts) - 1):
            directory = "/".join(parts[:depth + 1])
            if _SYSTEM_DIR.match(directory):
                continue
            folded = _TRIPLET.sub("*-linux-gnu", directory) if fold else directory
            owned, count = self._ownership(directory, folded, wanted)
            if owned and count >= DIR_GLOB_MIN:
                yield f"{folded}/**", "tree"
                return


def _twin(directory: str, arch: str) -> str:
    """``directory`` with its multiarch triplet replaced by ``arch``'s."""
    return _TRIPLET.sub(f"{arch}-linux-gnu", directory)
