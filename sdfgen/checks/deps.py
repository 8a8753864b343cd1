"""Dependency checks: dangling references, cycles, the copyright slice.

A slice's dependencies are its own ``deps`` plus its package's top-level ``deps``
(which apply to every slice but the one they name, else ``copyright`` would need itself).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sdfgen.checks.base import CheckContext, finding, known_sdfs
from sdfgen.checks.findings import Finding, Severity
from sdfgen.sdf.model import Sdf, SliceRef

E, W = Severity.ERROR, Severity.WARNING
IDS: dict[str, Severity] = {
    "dep-unknown-package": E,
    "dep-unknown-slice": E,
    "top-dep-unknown-slice": E,
    "dep-cycle": E,
    "no-copyright-slice": W,
}

Node = tuple[str, str]  # (package, slice)


def slice_deps(universe: Mapping[str, Sdf], node: Node) -> tuple[Node, ...]:
    """The direct dependencies of slice ``node``: its deps then its package's top deps."""
    package, name = node
    sdf = universe.get(package)
    if sdf is None or name not in sdf.slices:
        return ()
    refs = sdf.slices[name].deps + tuple(ref for ref in sdf.deps
                                         if (ref.package, ref.slice) != node)
    return tuple(dict.fromkeys((ref.package, ref.slice) for ref in refs))


def closure(universe: Mapping[str, Sdf], start: Node) -> set[Node]:
    """``start`` and every slice it depends on, directly or not (defined ones only)."""
    seen = {start}
    todo = [start]
    while todo:
        for dep in slice_deps(universe, todo.pop()):
            sdf = universe.get(dep[0])
            if dep not in seen and sdf is not None and dep[1] in sdf.slices:
                seen.add(dep)
                todo.append(dep)
    return seen


def run(context: CheckContext) -> Iterator[Finding]:
    """Dependency findings for every target SDF (cycles once, where they start)."""
    universe = known_sdfs(context)
    for sdf in context.targets:
        yield from _references(sdf, universe)
        if sdf.slices and "copyright" not in sdf.slices:
            yield finding(IDS, "no-copyright-slice", sdf, sdf.package_line,
                          f"{sdf.package} has no 'copyright' slice for its licence files")
    yield from _cycles(context, universe)


def _references(sdf: Sdf, universe: Mapping[str, Sdf]) -> Iterator[Finding]:
    for ref in sdf.deps:
        if ref.package == sdf.package and ref.slice not in sdf.slices:
            yield finding(IDS, "top-dep-unknown-slice", sdf, ref.line,
                          f"top-level dep {ref} names a slice {sdf.package} does not define")
        else:
            yield from _dangling(sdf, ref, universe, "top-level dep")
    for name, slice_def in sdf.slices.items():
        for ref in slice_def.deps:
            yield from _dangling(sdf, ref, universe, f"slice {name!r}: dep")


def _dangling(sdf: Sdf, ref: SliceRef, universe: Mapping[str, Sdf], where: str
              ) -> Iterator[Finding]:
    target = universe.get(ref.package)
    if target is None:
        yield finding(IDS, "dep-unknown-package", sdf, ref.line,
                      f"{where} {ref}: no SDF for package {ref.package!r}")
    elif ref.slice not in target.slices:
        known = ", ".join(target.slices) or "none"
        yield finding(IDS, "dep-unknown-slice", sdf, ref.line,
                      f"{where} {ref}: {ref.package} has no slice {ref.slice!r} "
                      f"(it has: {known})")


def _cycles(context: CheckContext, universe: Mapping[str, Sdf]) -> Iterator[Finding]:
    targets = {sdf.package for sdf in context.targets}
    # A cycle through a target is reachable from it: the search starts at the targets'
    # slices only, so the other SDFs are read only where the targets' deps lead.
    nodes = [(sdf.package, name) for sdf in context.targets for name in sdf.slices]
    seen: set[tuple[Node, ...]] = set()
    for cycle in _find_cycles(universe, nodes):
        canonical = _rotate(cycle)
        if canonical in seen or not any(node[0] in targets for node in canonical):
            continue
        seen.add(canonical)
        first = next(node for node in canonical if node[0] in targets)
        index = canonical.index(first)
        ordered = canonical[index:] + canonical[:index]
        sdf = universe[first[0]]
        ring = " -> ".join(f"{p}_{s}" for p, s in ordered + (ordered[0],))
        yield finding(IDS, "dep-cycle", sdf, sdf.slices[first[1]].line,
                      f"dependency cycle: {ring}")


def _find_cycles(universe: Mapping[str, Sdf], nodes: list[Node]) -> Iterator[tuple[Node, ...]]:
    """One cycle per back edge of an iterative depth-first search."""
    state: dict[Node, int] = {}  # 1: on the stack, 2: done
    for root in nodes:
        if root in state:
            continue
        stack: list[tuple[Node, Iterator[Node]]] = [(root, iter(slice_deps(universe, root)))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(child) == 1:
                yield tuple(path[path.index(child):])
            elif child not in state and child[1] in getattr(universe.get(child[0]),
                                                            "slices", {}):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(slice_deps(universe, child))))


def _rotate(cycle: tuple[Node, ...]) -> tuple[Node, ...]:
    index = cycle.index(min(cycle))
    return cycle[index:] + cycle[:index]
