"""The Distrofiles beside an SDF set, and the slices each uses.

Each ``*.yaml`` of the given directories is read by :mod:`builder.distrofile` and its
slice closure resolved by :mod:`builder.closure` against the set, as ``builder build``
would. A Distrofile that cannot be read or resolved (it still names a slice that was
renamed) is a problem for the review to show, not a failure: its parts still count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sdfgen.errors import SdfgenError
from sdfgen.review.graph import SliceGraph, slice_graph
from sdfgen.sdf.model import Sdf, load_sdf_dir


@dataclass(frozen=True)
class DistroUse:
    """A Distrofile (``name``: its file name), its parts and its whole closure."""

    name: str
    parts: tuple[str, ...]
    closure: frozenset[str]


def read_distrofiles(directories: Sequence[Path], sdfs: Mapping[str, Sdf], side: str
                     ) -> tuple[list[DistroUse], list[str]]:
    """The Distrofiles of ``directories`` (sorted by name) and one line per problem,
    naming ``side`` (old or new) and the file."""
    # builder's reader and closure import only sdfgen.sdf; loaded here, when needed.
    from builder.closure import resolve_closure
    from builder.distrofile import load_distrofile

    uses: list[DistroUse] = []
    problems: list[str] = []
    for directory in directories:
        for path in sorted(Path(directory).glob("*.yaml")):
            name = (path.name if len(directories) == 1
                    else f"{Path(directory).name}/{path.name}")
            try:
                distro = load_distrofile(path)
            except SdfgenError as exc:
                problems.append(f"{side}: {_named(str(exc), path, name)}")
                continue
            parts = tuple(str(part) for part in distro.parts)
            try:
                closure = resolve_closure(distro.parts, sdfs, source=path).slices
            except SdfgenError as exc:
                problems.append(f"{side}: {_named(str(exc), path, name)}")
                closure = ()
            uses.append(DistroUse(name, parts, frozenset(str(ref) for ref in closure)))
    return uses, problems


def _named(message: str, path: Path, name: str) -> str:
    """``message`` naming the Distrofile as ``name`` (not a scratch directory's path)."""
    message = message.replace(str(path), name)
    return message if message.startswith(name) else message.replace(path.name, name, 1)


def distrofile_graph(path: Path, sdf_dir: Path) -> SliceGraph:
    """The graph of the Distrofile at ``path``: its slice closure in ``sdf_dir``'s SDFs
    (resolved as ``builder build`` does; a dangling part is an error naming it), with
    the Distrofile as the root."""
    from builder.closure import resolve_closure
    from builder.distrofile import load_distrofile

    distro = load_distrofile(path)
    sdfs = load_sdf_dir(sdf_dir)
    closure = resolve_closure(distro.parts, sdfs, source=path)
    wanted: dict[str, set[str]] = {}
    for ref in closure.slices:
        wanted.setdefault(ref.package, set()).add(ref.slice)
    only = {package: replace(sdfs[package], slices={
        name: body for name, body in sdfs[package].slices.items() if name in names})
        for package, names in wanted.items()}
    return slice_graph(only, distrofiles={path.name: distro.parts},
                       title=f"{path.name}: {len(closure.slices)} slice(s) of "
                       f"{len(wanted)} package(s)")
