"""Run-time checks decided with no program run: files a slice's ELF objects open by name.

An absolute path in a selected ELF object's read-only strings that names a file some
package ships (:mod:`sdfgen.rpm.opened`: OpenSSL's ``/usr/lib/ssl/cert.pem``, glibc's
``/etc/gai.conf``; a symlink with every file it leads to) must be selected by some slice
in the selecting slice's dep closure, or an image built from that slice lacks it when
the program looks. A warning, not an error: the program may not need that file for the
job an image does. A file of the package itself whose slice already depends back on
the opening slice is not asked for (the dep would be a cycle; ``propose`` leaves it so).
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterator, Mapping

from sdfgen.checks.base import CheckContext, finding, known_sdfs, on_arches, selecting_slices
from sdfgen.checks.deps import closure
from sdfgen.checks.findings import Finding, Severity
from sdfgen.rpm.opened import OpenedPath, OwnerSource, ShippedFile, opened_paths
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, patterns_for

W = Severity.WARNING
IDS: dict[str, Severity] = {
    "opened-not-in-closure": W,
}


def run(context: CheckContext) -> Iterator[Finding]:
    """Opened-path findings for every target SDF (only with a repository)."""
    if not isinstance(context.packages, OwnerSource):
        return  # no repository (or a source that cannot say who ships a path)
    universe = known_sdfs(context)
    for sdf in context.targets:
        yield from _check_sdf(context, universe, sdf)


def _check_sdf(context: CheckContext, universe: Mapping[str, Sdf], sdf: Sdf) -> Iterator[Finding]:
    packages = context.packages
    assert isinstance(packages, OwnerSource) and context.packages is not None
    # (slice, path, message) -> arches, so a finding true on both arches is one line.
    collected: dict[tuple[str, str, str], list[str]] = {}
    lines: dict[str, int | None] = {}
    for arch in context.arches:
        rpm = context.packages.package(arch, sdf.package)
        if rpm is None:
            continue
        selected_by: dict[str, list[str]] = {}  # ELF object -> slices selecting it
        rules = {name: patterns_for(slice_def, arch) for name, slice_def in sdf.slices.items()}
        for entry in rpm.files:
            if entry.elf is not None and entry.elf.paths:
                selected_by[entry.path] = [name for name, patterns in rules.items()
                                           if any(matches(r.pattern, entry.path)
                                                  for r in patterns)]
        opened = list(opened_paths(rpm, functools.partial(packages.owners, arch),
                                   lambda entry, chosen=selected_by: bool(
                                       chosen.get(entry.path))))
        for name, slice_def in sdf.slices.items():
            lines[name] = slice_def.line
            reach = closure(universe, (sdf.package, name))
            for item in opened:
                if name not in selected_by[item.needed_by]:
                    continue
                missing = _first_missing(universe, reach, sdf.package, name, item, arch)
                if missing is None:
                    continue
                key = (name, item.path, _message(universe, name, item, missing, arch))
                collected.setdefault(key, []).append(arch)
    for (name, _path, message), arches in sorted(collected.items()):
        yield finding(IDS, "opened-not-in-closure", sdf, lines.get(name),
                      message + on_arches(arches))


def _first_missing(universe: Mapping[str, Sdf], reach: set[tuple[str, str]], package: str,
                   name: str, item: OpenedPath, arch: str) -> ShippedFile | None:
    """The first file of the chain no slice in ``reach`` selects (None: all are there)."""
    for shipped in item.files:
        holders = selecting_slices(universe, shipped.package, shipped.path, arch)
        if any((shipped.package, holder) in reach for holder in holders):
            continue
        if shipped.package == package and any(
                (package, name) in closure(universe, (package, holder)) for holder in holders):
            return None  # a dep on it would close a ring of this package's slices
        return shipped
    return None


def _message(universe: Mapping[str, Sdf], name: str, item: OpenedPath, missing: ShippedFile,
             arch: str) -> str:
    via = "" if missing.path == item.path else f" -> {missing.path}"
    holders = [f"{missing.package}_{holder}" for holder
               in selecting_slices(universe, missing.package, missing.path, arch)]
    if holders:
        advice = "add a dep on " + " or ".join(holders)
    elif missing.package not in universe:
        advice = f"there is no SDF for {missing.package}"
    else:
        advice = f"no slice of {missing.package} selects it"
    return (f"slice {name!r}: {posixpath.basename(item.needed_by)} opens {item.path}{via} "
            f"(from {missing.package}), but no slice in its dep closure selects it; {advice}")
