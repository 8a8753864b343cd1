"""What every check sees: the SDFs to check, all SDFs known, arches and packages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from sdfgen.checks.findings import Finding, Severity
from sdfgen.rpm.session import PackageSource
from sdfgen.sdf.globs import matches
from sdfgen.sdf.model import Sdf, patterns_for


@dataclass(frozen=True)
class CheckContext:
    """Input of a check run; ``packages`` is None when no repository was given."""

    targets: tuple[Sdf, ...]
    universe: Mapping[str, Sdf] = field(default_factory=dict)  # may load lazily
    arches: tuple[str, ...] = ("x86_64", "aarch64")
    packages: PackageSource | None = None


class Overlay(Mapping[str, Sdf]):
    """``front`` over ``back``: a package of ``front`` hides ``back``'s. Nothing is read
    from either but the packages asked for, so a lazily loaded SDF directory (a
    slice-releases checkout) stays lazy: a check reads the SDFs its targets reach."""

    def __init__(self, front: Mapping[str, Sdf], back: Mapping[str, Sdf]) -> None:
        self._front = front
        self._back = back

    def __getitem__(self, package: str) -> Sdf:
        if package in self._front:
            return self._front[package]
        return self._back[package]

    def __contains__(self, package: object) -> bool:
        return package in self._front or package in self._back

    def __iter__(self) -> Iterator[str]:
        yield from self._front
        yield from (package for package in self._back if package not in self._front)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def known_sdfs(context: CheckContext) -> Mapping[str, Sdf]:
    """Every SDF a check may look up: the context's universe, then the targets."""
    return Overlay(context.universe, {sdf.package: sdf for sdf in context.targets})


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


def selecting_slices(universe: Mapping[str, Sdf], package: str, path: str,
                     arch: str) -> list[str]:
    """The slices of ``package``'s SDF in ``universe`` that select ``path`` on ``arch``."""
    sdf = universe.get(package)
    if sdf is None:
        return []
    return [name for name, slice_def in sdf.slices.items()
            if any(matches(rule.pattern, path) for rule in patterns_for(slice_def, arch))]
