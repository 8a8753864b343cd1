"""Schema checks: structure of the YAML, names, and what the loader recorded.

Slice names must match ``[a-z0-9]([a-z0-9-]*[a-z0-9])?``: the corpus uses lower-case
words joined by '-'; '_' is excluded because references split at the last '_'.
"""

from __future__ import annotations

from collections.abc import Iterator

from sdfgen.checks.base import CheckContext, finding
from sdfgen.checks.findings import Finding, Severity
from sdfgen.sdf.model import Sdf, package_name_problem, slice_name_problem

E, W = Severity.ERROR, Severity.WARNING
IDS: dict[str, Severity] = {
    "invalid-yaml": E,
    "duplicate-key": E,
    "unknown-key": W,
    "missing-key": E,
    "wrong-type": E,
    "paths-outside-common": E,
    "path-options": W,
    "bad-slice-ref": E,
    "empty-document": W,
    "package-name-mismatch": E,
    "bad-package-name": E,
    "bad-slice-name": E,
    "empty-slice": W,
}


def run(context: CheckContext) -> Iterator[Finding]:
    """Schema findings for every target SDF."""
    for sdf in context.targets:
        yield from check_sdf(sdf)


def check_sdf(sdf: Sdf) -> Iterator[Finding]:
    """Schema findings of one SDF."""
    for problem in sdf.schema_problems:
        yield finding(IDS, problem.code, sdf, problem.line, problem.message)
    declared = sdf.declared_package
    if declared is not None:
        if sdf.path is not None and declared != sdf.path.stem:
            yield finding(IDS, "package-name-mismatch", sdf, sdf.package_line,
                          f"package {declared!r} is not the file name {sdf.path.name!r} "
                          f"(want {declared}.yaml)")
        bad_package = package_name_problem(declared)
        if bad_package is not None:
            yield finding(IDS, "bad-package-name", sdf, sdf.package_line, bad_package)
    for name, slice_def in sdf.slices.items():
        bad_name = slice_name_problem(name)  # the builder applies the same rule
        if bad_name is not None:
            yield finding(IDS, "bad-slice-name", sdf, slice_def.line, bad_name)
        if not slice_def.deps and not slice_def.rules:
            yield finding(IDS, "empty-slice", sdf, slice_def.line,
                          f"slice {name!r} has neither deps nor paths")
