"""Path-glob checks: against the repository's file lists, per arch, and on their own.

Read as splitter reads them (fnmatch): a glob that selects nothing makes splitter
extract the WHOLE package, so every such glob is an error; globs whose chisel reading
(``*`` stops at '/') selects other files are flagged because reviewers read them so.
A selected entry the builder refuses (``sdfgen.slicing.sliceable.refusal``: an unsafe
path, a device node or fifo, a symlink above the root) is an error: propose never
selects one, and check holds a hand-written SDF to the same rule.
Findings that hold on several arches are reported once, naming the arches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sdfgen.checks.base import CheckContext, finding, on_arches
from sdfgen.checks.findings import Finding, Severity
from sdfgen.facts import FileKind, RpmPackage
from sdfgen.sdf.globs import Reading, is_glob, matches, select
from sdfgen.sdf.model import PLATFORMS, PathRule, Sdf, patterns_for
from sdfgen.slicing.sliceable import (
    ESCAPING_SYMLINK,
    SPECIAL_FILE,
    UNSAFE_PATH,
    path_problem,
    refusal,
)

E, W = Severity.ERROR, Severity.WARNING
IDS: dict[str, Severity] = {
    "trailing-slash": E,
    "package-not-in-repository": W,
    "glob-matches-nothing": E,
    "extra-wrong-arch": E,
    "path-in-two-slices": E,
    "glob-readings-differ": W,
    UNSAFE_PATH: E,
    SPECIAL_FILE: E,
    ESCAPING_SYMLINK: E,
    "unsafe-payload": W,
}


@dataclass
class _PerArch:
    """A finding that may hold on several arches: collected, then reported once."""

    finding_id: str
    line: int | None
    message: str
    arches: list[str] = field(default_factory=list)
    example: str | None = None  # examples differ per arch (multiarch triplets): kept apart


def run(context: CheckContext) -> Iterator[Finding]:
    """Path findings for every target SDF; repository ones only with ``packages``."""
    for sdf in context.targets:
        yield from _trailing_slashes(sdf)
        yield from _unsafe_patterns(sdf)
        if context.packages is not None and sdf.slices:
            yield from _against_repository(context, sdf)


def _trailing_slashes(sdf: Sdf) -> Iterator[Finding]:
    for name, slice_def in sdf.slices.items():
        for rule in slice_def.rules:
            if rule.pattern.endswith("/") and rule.pattern != "/":
                yield finding(IDS, "trailing-slash", sdf, rule.line,
                              f"slice {name!r}: {rule.pattern} ends in '/': no payload path "
                              "does, so it selects nothing and splitter extracts the whole "
                              f"package; write {rule.pattern.rstrip('/')} or "
                              f"{rule.pattern}**")


def _unsafe_patterns(sdf: Sdf) -> Iterator[Finding]:
    """Patterns that can only select paths the builder refuses (``..``, ``.``, ``//``, a
    relative path): wrong without looking at any package."""
    for name, slice_def in sdf.slices.items():
        for rule in slice_def.rules:
            if rule.pattern.endswith("/") and rule.pattern != "/":
                continue  # trailing-slash says what is wrong with it
            problem = path_problem(rule.pattern)
            if problem is not None:
                yield finding(IDS, UNSAFE_PATH, sdf, rule.line,
                              f"slice {name!r}: {rule.pattern}: {problem}; it can only select "
                              "payload entries that are never used, and the builder refuses "
                              "them")


def _against_repository(context: CheckContext, sdf: Sdf) -> Iterator[Finding]:
    assert context.packages is not None
    rpms: dict[str, RpmPackage] = {}
    missing: list[str] = []
    for arch in context.arches:
        rpm = context.packages.package(arch, sdf.package)
        if rpm is None:
            missing.append(arch)
        else:
            rpms[arch] = rpm
    if missing:
        yield finding(IDS, "package-not-in-repository", sdf, sdf.package_line,
                      f"package {sdf.package} is not in the repository{on_arches(missing)}; "
                      "its globs were not checked there")
    collected: dict[tuple[str, int | None, str], _PerArch] = {}

    def add(finding_id: str, line: int | None, message: str, arch: str,
            example: str | None = None) -> None:
        key = (finding_id, line, message)
        item = collected.setdefault(key, _PerArch(finding_id, line, message, example=example))
        item.arches.append(arch)

    for arch, rpm in rpms.items():
        paths = [entry.path for entry in rpm.files]
        other = {a: [e.path for e in r.files] for a, r in rpms.items() if a != arch}
        for name, slice_def in sdf.slices.items():
            _no_match(sdf, name, slice_def.common, None, arch, paths, other, add)
            platform = f"linux-{arch}"
            _no_match(sdf, name, slice_def.extra.get(platform, ()), platform, arch, paths,
                      other, add)
            for rule in patterns_for(slice_def, arch):
                _readings(name, rule, arch, paths, add)
        _conflicts(sdf, arch, rpm, add)
        _refused(sdf, arch, rpm, add)
    for item in sorted(collected.values(), key=lambda c: (c.line or 0, c.finding_id)):
        example = f" (e.g. {item.example})" if item.example else ""
        yield finding(IDS, item.finding_id, sdf, item.line,
                      item.message + example + on_arches(item.arches))


def _no_match(sdf: Sdf, name: str, rules: tuple[PathRule, ...], platform: str | None,
              arch: str, paths: list[str], other: dict[str, list[str]], add) -> None:  # type: ignore[no-untyped-def]
    for rule in rules:
        if rule.pattern.endswith("/") or any(matches(rule.pattern, p) for p in paths):
            continue
        elsewhere = [a for a, other_paths in other.items()
                     if any(matches(rule.pattern, p) for p in other_paths)]
        if platform is not None and elsewhere:
            others = ", ".join(f"linux-{a}" for a in elsewhere)
            add("extra-wrong-arch", rule.line,
                f"slice {name!r}: {rule.pattern} is under extra.{platform} but selects "
                f"files only on {others}", arch)
            continue
        add("glob-matches-nothing", rule.line,
            f"slice {name!r}: {rule.pattern} selects no file of {sdf.package}; splitter "
            "then extracts the whole package", arch)


def _readings(name: str, rule: PathRule, arch: str, paths: list[str], add) -> None:  # type: ignore[no-untyped-def]
    if not is_glob(rule.pattern):
        return
    splitter = select(rule.pattern, paths, Reading.SPLITTER)
    chisel = select(rule.pattern, paths, Reading.CHISEL)
    if splitter == chisel:
        return
    extra = sorted(splitter - chisel)
    lacking = sorted(chisel - splitter)
    if extra:
        detail = "splitter's '*' also selects paths below other directories, chisel's does not"
        example = extra[0]
    else:
        detail = "chisel selects paths splitter does not"
        example = lacking[0]
    add("glob-readings-differ", rule.line, f"slice {name!r}: {rule.pattern}: {detail}", arch,
        example)


def _conflicts(sdf: Sdf, arch: str, rpm: RpmPackage, add) -> None:  # type: ignore[no-untyped-def]
    claims: dict[tuple[str, str, int | None, str, str, int | None], list[str]] = {}
    for entry in rpm.files:
        if entry.kind is FileKind.DIR:
            continue  # directories are created for every slice that has files below
        owners: list[tuple[str, PathRule]] = []
        for name, slice_def in sdf.slices.items():
            rule = next((r for r in patterns_for(slice_def, arch)
                         if matches(r.pattern, entry.path)), None)
            if rule is not None:
                owners.append((name, rule))
        for (first, first_rule), (second, second_rule) in zip(owners, owners[1:], strict=False):
            key = (first, first_rule.pattern, first_rule.line,
                   second, second_rule.pattern, second_rule.line)
            claims.setdefault(key, []).append(entry.path)
    for (first, first_pattern, _l1, second, second_pattern, line), paths in claims.items():
        add("path-in-two-slices", line,
            f"slice {second!r}: {second_pattern} and slice {first!r}: {first_pattern} both "
            "select the same path(s)", arch, sorted(paths)[0])


def _refused(sdf: Sdf, arch: str, rpm: RpmPackage, add) -> None:  # type: ignore[no-untyped-def]
    """Selected entries the builder refuses (the predicate propose leaves them out by),
    and a payload with unsafe entries, for which the builder refuses the whole package."""
    if rpm.problems:
        first = rpm.problems[0]
        more = f" (and {len(rpm.problems) - 1} more)" if len(rpm.problems) > 1 else ""
        add("unsafe-payload", sdf.package_line,
            f"{sdf.package}: payload entry {first.entry!r}: {first.problem}{more}; the "
            "builder refuses the package", arch)
    for entry in rpm.files:
        refused = refusal(entry)
        if refused is None:
            continue
        for name, slice_def in sdf.slices.items():
            for rule in patterns_for(slice_def, arch):
                if path_problem(rule.pattern) is not None:
                    continue  # reported as a pattern by _unsafe_patterns
                if matches(rule.pattern, entry.path):
                    add(refused.code, rule.line,
                        f"slice {name!r}: {rule.pattern} selects {entry.path!r}, "
                        f"{refused.reason}; the builder refuses it", arch)
                    break


__all__ = ["IDS", "PLATFORMS", "run"]
