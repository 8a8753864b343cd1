"""Splitter compatibility: SDF constructs that openEuler's splitter cuts differently.

splitter (see :mod:`sdfgen.sdf.splitter` for its cut, modelled) and the builder agree on
an SDF only when it avoids the first three constructs below; each is an error, because
the image splitter makes then differs from the one the SDF describes (and from the
builder's). The fourth is a warning about the repository's package, which no SDF fixes:

- ``splitter-extra-only``: a slice with patterns only under ``extra``: splitter pools
  ``common`` lists per package and skips a package whose pool is empty, extras and all;
- ``splitter-top-level-dep``: a top-level dep that some slice does not also reach
  through slice deps: splitter never cuts top-level deps, so the copyright slice (or
  whatever it names) is missing from its images;
- ``splitter-arch-block`` (with a repository): an ``extra.linux-ARCH`` block that on
  another arch selects nothing (splitter runs every block on every arch, and a list that
  selects nothing extracts the WHOLE package) or selects files the SDF's slices do not
  take there;
- ``splitter-version`` (with a repository): a package version that splitter's version
  parser (``packaging.version``) rejects: its download raises and nothing is cut.
"""

from __future__ import annotations

from collections.abc import Iterator

from sdfgen.checks.base import CheckContext, Overlay, finding, on_arches
from sdfgen.checks.findings import Finding, Severity
from sdfgen.facts import FileKind
from sdfgen.sdf.globs import any_matcher
from sdfgen.sdf.model import Sdf, SliceRef, patterns_for
from sdfgen.sdf.splitter import closure

E, W = Severity.ERROR, Severity.WARNING
IDS: dict[str, Severity] = {
    "splitter-extra-only": E,
    "splitter-top-level-dep": E,
    "splitter-arch-block": E,
    "splitter-version": W,  # the repository's doing, not the SDF's: the SDF is right
}


def run(context: CheckContext) -> Iterator[Finding]:
    """Splitter findings for every target SDF; the per-arch ones only with packages."""
    for sdf in context.targets:
        yield from _extra_only(sdf)
        yield from _top_level_deps(context, sdf)
        if context.packages is not None:
            yield from _arch_blocks(context, sdf)
            yield from _versions(context, sdf)


def _extra_only(sdf: Sdf) -> Iterator[Finding]:
    for name, slice_def in sdf.slices.items():
        if slice_def.extra and any(slice_def.extra.values()) and not slice_def.common:
            yield finding(IDS, "splitter-extra-only", sdf, slice_def.line,
                          f"slice {name!r} has patterns only under extra: splitter cuts a "
                          "package's extra blocks only with its common patterns, so it "
                          "skips this slice; write the patterns under common (globs such "
                          "as /usr/lib/*-linux-gnu/ hold on every arch)")


def _top_level_deps(context: CheckContext, sdf: Sdf) -> Iterator[Finding]:
    if not sdf.deps:
        return
    universe = Overlay({sdf.package: sdf}, context.universe)
    reached: dict[str, set[SliceRef]] = {}
    for name in sdf.slices:
        reached[name] = closure(universe, [SliceRef(sdf.package, name)], top_level=False,
                                strict=False)
    for dep in sdf.deps:
        key = SliceRef(dep.package, dep.slice)
        target = universe.get(dep.package)
        if target is None or dep.slice not in target.slices:
            continue  # a dep on nothing: the deps family reports it
        lacking = [name for name in sdf.slices
                   if key not in reached[name] and SliceRef(sdf.package, name) != key]
        if lacking:
            shown = ", ".join(repr(n) for n in lacking[:5])
            more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
            yield finding(IDS, "splitter-top-level-dep", sdf, dep.line,
                          f"top-level dep {key}: splitter cuts no top-level deps, so its "
                          f"images of slice(s) {shown}{more} lack it; add {key} to their "
                          "deps")


def _arch_blocks(context: CheckContext, sdf: Sdf) -> Iterator[Finding]:
    assert context.packages is not None
    files: dict[str, list[str]] = {}
    for arch in context.arches:
        rpm = context.packages.package(arch, sdf.package)
        if rpm is not None:
            files[arch] = [f.path for f in rpm.files if f.kind is not FileKind.DIR]
    taken = {arch: {p for s in sdf.slices.values()
                    for p in _selected([r.pattern for r in patterns_for(s, arch)], paths)}
             for arch, paths in files.items()}
    for name, slice_def in sdf.slices.items():
        for platform, rules in slice_def.extra.items():
            if not rules:
                continue
            line = rules[0].line
            empty: list[str] = []
            foreign: dict[str, list[str]] = {}
            for arch, paths in files.items():
                if platform == f"linux-{arch}":
                    continue
                selected = _selected([r.pattern for r in rules], paths)
                if not selected:
                    empty.append(arch)
                elif not selected <= taken[arch]:
                    foreign[arch] = sorted(selected - taken[arch])
            if empty:
                yield finding(IDS, "splitter-arch-block", sdf, line,
                              f"slice {name!r}: extra.{platform} selects nothing"
                              f"{on_arches(empty)}, where splitter runs it too and so "
                              f"extracts the whole package {sdf.package}; add a pattern "
                              "that selects this slice's files on every arch (one of its "
                              "common patterns)")
            for arch, paths in foreign.items():
                yield finding(IDS, "splitter-arch-block", sdf, line,
                              f"slice {name!r}: splitter runs extra.{platform} on {arch} "
                              f"too, where it cuts {len(paths)} file(s) no slice takes "
                              f"there (e.g. {paths[0]})")


def _selected(patterns: list[str], paths: list[str]) -> set[str]:
    wanted = any_matcher(patterns)
    return {p for p in paths if wanted(p)}


def _versions(context: CheckContext, sdf: Sdf) -> Iterator[Finding]:
    from packaging.version import InvalidVersion, Version

    assert context.packages is not None
    rejected: dict[str, list[str]] = {}
    for arch in context.arches:
        rpm = context.packages.package(arch, sdf.package)
        if rpm is None:
            continue
        try:
            Version(rpm.evr.version)
        except InvalidVersion:
            rejected.setdefault(rpm.evr.version, []).append(arch)
    for version, arches in rejected.items():
        yield finding(IDS, "splitter-version", sdf, sdf.package_line,
                      f"version {version!r} of {sdf.package}: splitter's version parser "
                      "(packaging.version) rejects it, so splitter cannot download the "
                      f"package and cuts none of its slices{on_arches(arches)}")
