"""What every check sees: the SDFs to check, all SDFs known, arches and packages."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdfgen.checks.findings import Finding, Severity
from sdfgen.rpm.session import PackageSource
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, patterns_for


@dataclass(frozen=True)
class CheckContext:
    """Input of a check run; ``packages`` is None when no repository was given."""

    targets: tuple[Sdf, ...]
    universe: dict[str, Sdf] = field(default_factory=dict)
    arches: tuple[str, ...] = ("x86_64", "aarch64")
    packages: PackageSource | None = None


def sdf_file(sdf: Sdf) -> str:
    """How findings name the SDF's file."""
    return str(sdf.path) if sdf.path is not None else f"{sdf.package}.yaml"


def finding(ids: dict[str, Severity], finding_id: str, sdf: Sdf, line: int | None,
            message: str) -> Finding:
    """A finding of ``finding_id`` (severity from ``ids``) at ``line`` of ``sdf``'s file."""
    return Finding(sdf_file(sdf), line or 0, ids[finding_id], finding_id, message)


def on_arches(arches: list[str]) -> str:
    """" (on x86_64, aarch64)" for messages about some arches."""
    return f" (on {', '.join(arches)})"


def selecting_slices(universe: dict[str, Sdf], package: str, path: str,
                     arch: str) -> list[str]:
    """The slices of ``package``'s SDF in ``universe`` that select ``path`` on ``arch``."""
    sdf = universe.get(package)
    if sdf is None:
        return []
    return [name for name, slice_def in sdf.slices.items()
            if any(matches(rule.pattern, path) for rule in patterns_for(slice_def, arch))]
