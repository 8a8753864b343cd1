"""openEuler's splitter, modelled: which files its cut of some slices extracts, per arch.

splitter (EulerPublisher's ``tools/splitter``) cuts slices out of RPMs with
``rpm2cpio | cpio -idm -E LIST``. What it extracts differs from what the SDF seems to
say, and from the builder, in four ways, all modelled here:

1. The closure follows each slice's own ``deps`` only: an SDF's top-level ``deps``
   (usually ``<package>_copyright``) are read but never cut.
2. Per package, the ``contents.common`` lists of the closure's slices are pooled; a
   package whose pooled list is empty is skipped, so a slice defined only under
   ``extra`` yields nothing (unless a sibling slice with ``common`` is cut too).
3. Every ``extra`` block is run whatever the target arch: ``linux-aarch64`` and
   ``linux-x86_64`` both, on x86_64 and on aarch64.
4. Each list (the pooled common, each extra block) becomes the names of the payload
   entries it selects (``fnmatch``: ``*`` crosses ``/``); when it selects none, cpio is
   handed an empty list and extracts the WHOLE package.

:func:`builder_cut` is the builder's reading of the same slices (top-level deps
followed; common plus the target arch's block), so the two can be compared file by
file. Both take each package's payload paths per arch and return, per package, the
non-directory paths cut (directories are made for whatever lands below them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sdfgen.errors import SdfError
from sdfgen.sdf.globs import any_matcher
from sdfgen.sdf.model import PathRule, Sdf, SliceDef, SliceRef, patterns_for

# The order splitter runs the handlers in (its code: arm64, then amd64).
SPLITTER_BLOCKS = ("linux-aarch64", "linux-x86_64")


@dataclass(frozen=True)
class Cut:
    """Per package, the paths one reading cuts; and the packages cut whole."""

    files: Mapping[str, frozenset[str]]
    whole: frozenset[str] = frozenset()  # packages extracted whole (a list selected nothing)


def _sdf(sdfs: Mapping[str, Sdf], ref: SliceRef) -> Sdf:
    sdf = sdfs.get(ref.package)
    if sdf is None:
        raise SdfError(f"{ref}: no SDF for package {ref.package!r}")
    return sdf


def _slice(sdfs: Mapping[str, Sdf], ref: SliceRef) -> SliceDef | None:
    return _sdf(sdfs, ref).slices.get(ref.slice)


def closure(sdfs: Mapping[str, Sdf], parts: Iterable[SliceRef], *,
            top_level: bool, strict: bool = True) -> set[SliceRef]:
    """The slices reachable from ``parts`` through slice deps (and, when ``top_level``,
    through each SDF's top-level deps as the builder follows them). A reference to a
    package without an SDF raises SdfError, or is kept as a leaf when not ``strict``."""
    seen: set[SliceRef] = set()
    pending = [SliceRef(p.package, p.slice) for p in parts]
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if not strict and ref.package not in sdfs:
            continue
        slice_def = _slice(sdfs, ref)
        deps = list(slice_def.deps) if slice_def is not None else []
        if top_level:
            deps += _sdf(sdfs, ref).deps
        pending.extend(SliceRef(d.package, d.slice) for d in deps)
    return seen


def _payload(files: Mapping[str, Collection[str]], package: str) -> Collection[str]:
    return files.get(package, ())


def _select(patterns: Iterable[PathRule], paths: Collection[str]) -> set[str]:
    wanted = any_matcher(rule.pattern for rule in patterns)
    return {path for path in paths if wanted(path)}


def splitter_cut(sdfs: Mapping[str, Sdf], parts: Iterable[SliceRef],
                 files: Mapping[str, Collection[str]]) -> Cut:
    """What splitter extracts for ``parts`` on one arch, whose payload paths (without
    directories) per package are ``files``. The arch itself does not matter: splitter
    runs every block on every arch."""
    common: dict[str, list[PathRule]] = {}
    extras: dict[str, list[SliceDef]] = {}
    for ref in sorted(closure(sdfs, parts, top_level=False), key=str):
        slice_def = _slice(sdfs, ref)
        if slice_def is None:
            continue  # splitter finds no such slice: nothing from it
        package = _sdf(sdfs, ref).package
        if slice_def.common:
            common.setdefault(package, []).extend(slice_def.common)
        if slice_def.extra:
            extras.setdefault(package, []).append(slice_def)
    cut: dict[str, frozenset[str]] = {}
    whole: set[str] = set()
    for package, patterns in common.items():
        payload = _payload(files, package)
        lists = [patterns] + [list(s.extra.get(block, ())) for s in extras.get(package, [])
                              for block in SPLITTER_BLOCKS]
        taken: set[str] = set()
        for index, patterns_of_list in enumerate(lists):
            if index and not patterns_of_list:
                continue  # an absent or empty handler list is not run
            selected = _select(patterns_of_list, payload)
            if not selected:
                whole.add(package)
                selected = set(payload)
            taken |= selected
        cut[package] = frozenset(taken)
    return Cut(cut, frozenset(whole))


def builder_cut(sdfs: Mapping[str, Sdf], parts: Iterable[SliceRef], arch: str,
                files: Mapping[str, Collection[str]]) -> Cut:
    """What the builder cuts for ``parts`` on ``arch`` (top-level deps followed; common
    plus ``extra.linux-ARCH``), from the same payload paths."""
    selected: dict[str, set[str]] = {}
    for ref in closure(sdfs, parts, top_level=True):
        slice_def = _slice(sdfs, ref)
        if slice_def is None:
            continue
        package = _sdf(sdfs, ref).package
        taken = _select(patterns_for(slice_def, arch), _payload(files, package))
        selected.setdefault(package, set()).update(taken)
    return Cut({package: frozenset(paths) for package, paths in selected.items()})


@dataclass(frozen=True)
class CutDifference:
    """Files one reading cuts and the other does not, for one package on one arch."""

    package: str
    only_splitter: frozenset[str]
    only_builder: frozenset[str]
    whole: bool  # splitter extracted the whole package


def compare(splitter: Cut, builder: Cut) -> list[CutDifference]:
    """Per package (sorted), where the two cuts differ; [] when they agree."""
    result = []
    for package in sorted(set(splitter.files) | set(builder.files)):
        ours = splitter.files.get(package, frozenset())
        theirs = builder.files.get(package, frozenset())
        if ours != theirs:
            result.append(CutDifference(package, ours - theirs, theirs - ours,
                                        package in splitter.whole))
    return result
