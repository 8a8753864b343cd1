"""The slice closure of a Distrofile: its parts plus every slice they depend on.

A slice depends on its own ``deps`` and on its SDF's TOP-LEVEL ``deps`` (usually the
package's ``copyright`` slice). splitter follows only the former, so its images lose
the copyright files; the closure here follows both. A reference to a package without
an SDF or to a slice its SDF does not define is an error naming who referred to it, and
so is a package or slice name ``sdfgen check`` rejects (the same functions decide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError
from sdfgen.sdf.model import (
    Sdf,
    SliceDef,
    SliceRef,
    package_name_problem,
    slice_name_problem,
)


@dataclass(frozen=True)
class SliceClosure:
    """The selected slices in a stable order (packages by name, slices in file order)."""

    slices: tuple[SliceRef, ...]
    sdfs: Mapping[str, Sdf]

    @property
    def packages(self) -> tuple[str, ...]:
        """The packages that contribute at least one slice, sorted."""
        return tuple(sorted({ref.package for ref in self.slices}))

    def slices_of(self, package: str) -> tuple[SliceDef, ...]:
        """The selected slice definitions of ``package``, in SDF order."""
        wanted = {ref.slice for ref in self.slices if ref.package == package}
        return tuple(s for name, s in self.sdfs[package].slices.items() if name in wanted)


def _where(sdf: Sdf, line: int | None) -> str:
    name = sdf.path.name if sdf.path is not None else f"{sdf.package}.yaml"
    return f"{name}:{line}" if line else name


def check_sdf(sdf: Sdf) -> None:
    """Refuse an SDF with schema problems or a name ``sdfgen check`` rejects (the builder
    must not guess what it meant, nor build what check calls wrong)."""
    if sdf.schema_problems:
        first = sdf.schema_problems[0]
        more = len(sdf.schema_problems) - 1
        raise BuildError(f"{_where(sdf, first.line)}: {first.message}"
                         + (f" (and {more} more problem(s); run 'sdfgen check')" if more else ""))
    bad_package = package_name_problem(sdf.package)
    if bad_package is not None:
        raise BuildError(f"{_where(sdf, sdf.package_line)}: {bad_package}")
    for name, slice_def in sdf.slices.items():
        bad_name = slice_name_problem(name)
        if bad_name is not None:
            raise BuildError(f"{_where(sdf, slice_def.line)}: {bad_name}")


def _check_ref(ref: SliceRef, referrer: str) -> None:
    """Refuse a reference whose package or slice name breaks check's name rules."""
    problem = package_name_problem(ref.package) or slice_name_problem(ref.slice)
    if problem is not None:
        raise BuildError(f"{referrer}: {problem}")


def resolve_closure(parts: Sequence[SliceRef], sdfs: Mapping[str, Sdf], *,
                    source: str | Path) -> SliceClosure:
    """Every slice reachable from ``parts``; ``source`` names the Distrofile in messages.

    Raises BuildError for a missing SDF or slice, naming the Distrofile part or the
    SDF slice (or top-level deps) that referred to it.
    """
    source_name = Path(source).name
    seen: set[SliceRef] = set()
    # (reference, who referred to it) pairs still to visit; depth first, stable order.
    pending: list[tuple[SliceRef, str]] = [
        (ref, f"{source_name}" + (f":{ref.line}" if ref.line else "") + f": part {ref}")
        for ref in reversed(parts)
    ]
    while pending:
        ref, referrer = pending.pop()
        key = SliceRef(ref.package, ref.slice)
        if key in seen:
            continue
        _check_ref(ref, referrer)
        sdf = sdfs.get(ref.package)
        if sdf is None:
            raise BuildError(f"{referrer}: no SDF for package {ref.package!r} "
                             f"(no {ref.package}.yaml in the SDF directory)")
        check_sdf(sdf)
        slice_def = sdf.slices.get(ref.slice)
        if slice_def is None:
            known = ", ".join(sdf.slices) or "none"
            raise BuildError(f"{referrer}: no such slice {ref.slice!r} in "
                             f"{_where(sdf, None)} (slices: {known})")
        seen.add(key)
        deps = [(dep, f"{_where(sdf, dep.line)}: slice {ref.slice} deps on {dep}")
                for dep in slice_def.deps]
        deps += [(dep, f"{_where(sdf, dep.line)}: top-level deps of {sdf.package} "
                  f"name {dep}") for dep in sdf.deps]
        pending.extend(reversed(deps))
    ordered = tuple(
        SliceRef(package, name)
        for package in sorted({ref.package for ref in seen})
        for name in sdfs[package].slices
        if SliceRef(package, name) in seen
    )
    return SliceClosure(ordered, sdfs)
