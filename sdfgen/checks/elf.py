"""ELF checks: every NEEDED soname of a selected file must come with the slice.

For a file a slice selects, each NEEDED soname is mapped to the packages that provide
it (``resolve.capability_for`` + the repository's Provides) and to their files of that
name; some slice in the selecting slice's dep closure must select one of those files,
or the library is missing from an image built from that slice.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping

from sdfgen.checks.base import CheckContext, finding, known_sdfs, on_arches, selecting_slices
from sdfgen.checks.deps import closure
from sdfgen.checks.findings import Finding, Severity
from sdfgen.facts import ElfInfo, FileKind, RpmPackage
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, patterns_for

E, W = Severity.ERROR, Severity.WARNING
IDS: dict[str, Severity] = {
    "needed-not-in-closure": E,
    "needed-unresolved": W,
}


def run(context: CheckContext) -> Iterator[Finding]:
    """NEEDED findings for every target SDF (only with a repository)."""
    if context.packages is None:
        return
    universe = known_sdfs(context)
    for sdf in context.targets:
        yield from _check_sdf(context, universe, sdf)


def _provider_files(providers: tuple[RpmPackage, ...], soname: str) -> list[tuple[str, str]]:
    files: list[tuple[str, str]] = []
    for rpm in providers:
        for entry in rpm.files:
            if entry.kind is FileKind.DIR:
                continue
            if posixpath.basename(entry.path) == soname or (
                    entry.elf is not None and entry.elf.soname == soname):
                files.append((rpm.name, entry.path))
    return files


def _check_sdf(context: CheckContext, universe: Mapping[str, Sdf], sdf: Sdf) -> Iterator[Finding]:
    assert context.packages is not None
    # (slice, soname, finding id, message) -> arches, so both arches report once.
    collected: dict[tuple[str, str, str, str], list[str]] = {}
    lines: dict[str, int | None] = {}
    for arch in context.arches:
        rpm = context.packages.package(arch, sdf.package)
        if rpm is None:
            continue
        for name, slice_def in sdf.slices.items():
            lines[name] = slice_def.line
            rules = patterns_for(slice_def, arch)
            reach = closure(universe, (sdf.package, name))
            needers: dict[str, list[str]] = {}
            elf_of: dict[str, ElfInfo] = {}
            for entry in rpm.files:
                elf = entry.elf
                if elf is None or elf.error or not elf.needed:
                    continue
                if not any(matches(rule.pattern, entry.path) for rule in rules):
                    continue
                for soname in elf.needed:
                    needers.setdefault(soname, []).append(entry.path)
                    elf_of.setdefault(soname, elf)
            for soname, users in sorted(needers.items()):
                providers = context.packages.providers(arch, soname, elf_of[soname])
                files = _provider_files(providers, soname)
                who = _who(users)
                if not files:
                    key = (name, soname, "needed-unresolved",
                           f"slice {name!r}: {who} needs {soname}, which no package in the "
                           "repository provides")
                    collected.setdefault(key, []).append(arch)
                    continue
                covering = [(pkg, path) for pkg, path in files
                            if any((pkg, s) in reach
                                   for s in selecting_slices(universe, pkg, path, arch))]
                if covering:
                    continue
                key = (name, soname, "needed-not-in-closure",
                       f"slice {name!r}: {who} needs {soname} "
                       f"({_providers_text(files)}), but no slice in its dep closure "
                       f"selects it; {_suggestion(universe, sdf.package, files, arch)}")
                collected.setdefault(key, []).append(arch)
    for (name, _soname, finding_id, message), arches in collected.items():
        yield finding(IDS, finding_id, sdf, lines.get(name), message + on_arches(arches))


def _who(users: list[str]) -> str:
    first = posixpath.basename(sorted(users)[0])
    return first if len(users) == 1 else f"{first} (and {len(users) - 1} more)"


def _providers_text(files: list[tuple[str, str]]) -> str:
    packages = sorted({pkg for pkg, _path in files})
    return "from " + ", ".join(packages)


def _suggestion(universe: Mapping[str, Sdf], own: str, files: list[tuple[str, str]],
                arch: str) -> str:
    refs: list[str] = []
    for pkg, path in files:
        for slice_name in selecting_slices(universe, pkg, path, arch):
            ref = f"{pkg}_{slice_name}"
            if ref not in refs:
                refs.append(ref)
    if refs:
        return "add a dep on " + " or ".join(refs)
    packages = sorted({pkg for pkg, _path in files})
    without = [pkg for pkg in packages if pkg not in universe]
    if without:
        return f"there is no SDF for {', '.join(without)}"
    if own in packages:
        return "select the library in this slice or a slice it depends on"
    return f"no slice of {', '.join(packages)} selects it"
