"""The slice dependency graph of a set of SDFs, as data and as Graphviz DOT text.

A node is a slice (``zlib_libs``), drawn in a cluster per package; an edge is a slice's
dep, or a dep it has from its SDF's top-level ``deps`` (drawn dotted: splitter does not
follow those, the builder does). A dep on a slice no SDF of the set defines gets a node
of its own, marked missing. A review marks slices added, renamed, changed or removed
and adds the Distrofiles that use them; removed slices keep their old edges, dashed.

The DOT text is deterministic: packages, slices, edges and Distrofiles sorted by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sdfgen.sdf.model import Sdf, SliceRef


class SliceState(StrEnum):
    """How a review sees a slice; ``same`` for a graph of one set."""

    SAME = "same"
    CHANGED = "changed"
    REBUILT = "rebuilt"  # the package's build changed, the slice's files did not
    ADDED = "added"
    RENAMED = "renamed"
    REMOVED = "removed"
    MISSING = "missing"  # named by a dep, defined by no SDF of the set


@dataclass(frozen=True, order=True)
class GraphNode:
    """One slice; ``note`` is a second label line (``was themes``)."""

    package: str
    slice: str
    state: SliceState = SliceState.SAME
    note: str = ""

    @property
    def ref(self) -> str:
        """The slice reference, also the node's DOT id."""
        return f"{self.package}_{self.slice}"


@dataclass(frozen=True, order=True)
class GraphEdge:
    """``source`` deps on ``target`` (slice references, or a Distrofile's id)."""

    source: str
    target: str
    kind: str = "dep"  # dep | top (from the SDF's top-level deps) | part | removed


@dataclass(frozen=True)
class SliceGraph:
    """Nodes, edges and Distrofile roots (name -> node id) of one picture."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    distrofiles: tuple[str, ...] = ()
    title: str = ""
    legend: bool = False
    omitted: int = 0  # slices left out of a neighbourhood

    def refs(self) -> set[str]:
        """Every slice reference drawn."""
        return {node.ref for node in self.nodes}


@dataclass
class _Builder:
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: set[GraphEdge] = field(default_factory=set)

    def add_sdf(self, sdf: Sdf, states: Mapping[str, SliceState], notes: Mapping[str, str],
                *, removed: bool = False) -> None:
        for name, slice_def in sdf.slices.items():
            ref = f"{sdf.package}_{name}"
            state = SliceState.REMOVED if removed else states.get(ref, SliceState.SAME)
            self.nodes[ref] = GraphNode(sdf.package, name, state, notes.get(ref, ""))
            explicit = [str(dep) for dep in slice_def.deps]
            kind = "removed" if removed else "dep"
            self.edges.update(GraphEdge(ref, dep, kind) for dep in explicit if dep != ref)
            self.edges.update(GraphEdge(ref, str(dep), "removed" if removed else "top")
                              for dep in sdf.deps
                              if str(dep) not in explicit and str(dep) != ref)


def slice_graph(sdfs: Mapping[str, Sdf], *, states: Mapping[str, SliceState] | None = None,
                notes: Mapping[str, str] | None = None,
                removed: Iterable[tuple[Sdf, str]] = (),
                distrofiles: Mapping[str, Sequence[SliceRef | str]] | None = None,
                title: str = "", legend: bool = False) -> SliceGraph:
    """The graph of every slice of ``sdfs`` (package -> SDF). ``states`` and ``notes``
    (by slice reference) mark a review's changes; ``removed`` adds (old SDF, slice name)
    slices, dashed; ``distrofiles`` (name -> parts) adds each as a root."""
    states, notes = states or {}, notes or {}
    builder = _Builder()
    for package in sorted(sdfs):
        builder.add_sdf(sdfs[package], states, notes)
    for old_sdf, name in removed:
        ref = f"{old_sdf.package}_{name}"
        if ref in builder.nodes or name not in old_sdf.slices:
            continue
        only = Sdf(old_sdf.package, old_sdf.deps, {name: old_sdf.slices[name]})
        builder.add_sdf(only, states, notes, removed=True)
    roots = dict(distrofiles or {})
    for name, parts in roots.items():
        builder.edges.update(GraphEdge(distro_id(name), str(part), "part") for part in parts)
    for edge in list(builder.edges):
        if edge.target not in builder.nodes:
            target = _split(edge.target)
            builder.nodes[edge.target] = GraphNode(target.package, target.slice,
                                                   SliceState.MISSING)
    return SliceGraph(tuple(sorted(builder.nodes.values(), key=lambda n: (n.package, n.slice))),
                      tuple(sorted(builder.edges)), tuple(sorted(roots)), title, legend)


def neighbourhood(graph: SliceGraph, focus: Iterable[str]) -> SliceGraph:
    """``graph`` cut down to the ``focus`` slices, everything they dep on and everything
    that deps on them (slices and Distrofiles, transitively): a change in its place,
    without the unrelated rest of a large set."""
    focus = set(focus)
    out_edges: dict[str, list[str]] = {}
    in_edges: dict[str, list[str]] = {}
    for edge in graph.edges:
        out_edges.setdefault(edge.source, []).append(edge.target)
        in_edges.setdefault(edge.target, []).append(edge.source)
    keep = set(focus)
    for neighbours in (out_edges, in_edges):
        pending = list(focus)
        while pending:
            for other in neighbours.get(pending.pop(), ()):
                if other not in keep:
                    keep.add(other)
                    pending.append(other)
    distros = {name for name in graph.distrofiles if distro_id(name) in keep}
    nodes = tuple(node for node in graph.nodes if node.ref in keep)
    edges = tuple(edge for edge in graph.edges
                  if edge.source in keep and edge.target in keep)
    return SliceGraph(nodes, edges, tuple(sorted(distros)), graph.title, graph.legend,
                      graph.omitted + len(graph.nodes) - len(nodes))


def distro_id(name: str) -> str:
    """The node id of the Distrofile ``name`` (never a slice reference: it has a ':')."""
    return f"distrofile:{name}"


def _split(ref: str) -> SliceRef:
    package, _sep, name = ref.rpartition("_")
    return SliceRef(package or ref, name)


# Colours a reader tells apart on a white PR page, also in grey print.
_STYLE = {
    SliceState.SAME: 'style="rounded,filled" fillcolor="#ffffff" color="#868e96"',
    SliceState.CHANGED: 'style="rounded,filled,bold" fillcolor="#ffe8cc" color="#e8590c" '
                        'penwidth=2 fontname="Helvetica-Bold"',
    SliceState.REBUILT: 'style="rounded,filled,bold" fillcolor="#fff3bf" color="#f08c00" '
                        'penwidth=2',
    SliceState.ADDED: 'style="rounded,filled,bold" fillcolor="#d3f9d8" color="#2b8a3e" '
                      'penwidth=2 fontname="Helvetica-Bold"',
    SliceState.RENAMED: 'style="rounded,filled,bold" fillcolor="#d0ebff" color="#1864ab" '
                        'penwidth=2 fontname="Helvetica-Bold"',
    SliceState.REMOVED: 'style="rounded,dashed" color="#c92a2a" fontcolor="#c92a2a" '
                        'penwidth=1.5',
    SliceState.MISSING: 'style="rounded,dashed,filled" fillcolor="#fff5f5" color="#c92a2a" '
                        'fontcolor="#c92a2a"',
}
_EDGE = {
    "dep": "",
    "top": ' [style=dotted]',
    "part": ' [color="#5c7cfa"]',
    "removed": ' [style=dashed color="#c92a2a"]',
}
_LEGEND = (
    (SliceState.CHANGED, "changed"), (SliceState.REBUILT, "new build"),
    (SliceState.ADDED, "added"),
    (SliceState.RENAMED, "renamed"), (SliceState.REMOVED, "removed"),
    (SliceState.SAME, "unchanged"),
)


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: SliceGraph) -> str:
    """The DOT text of ``graph``: one cluster per package, Distrofiles as notes on the
    left, changed slices coloured and bold, removed ones dashed, a legend on request."""
    label = graph.title
    if graph.omitted:
        label += ("; " if label else "") + f"{graph.omitted} unrelated slice(s) not drawn"
    lines = [
        "digraph slices {",
        '  graph [rankdir=LR fontname="Helvetica" fontsize=11 nodesep=0.12 ranksep=0.5'
        + (f" label={quote(label)} labelloc=t labeljust=l" if label else "") + "];",
        '  node [shape=box fontname="Helvetica" fontsize=10 height=0.3 margin="0.08,0.03"];',
        '  edge [color="#868e96" arrowsize=0.6];',
    ]
    by_package: dict[str, list[GraphNode]] = {}
    for node in graph.nodes:
        by_package.setdefault(node.package, []).append(node)
    for index, package in enumerate(sorted(by_package)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f'    label={quote(package)} style="rounded" color="#ced4da" '
                     'fontcolor="#495057";')
        for node in by_package[package]:
            label = node.slice + (f"\n{node.note}" if node.note else "")
            if node.state is SliceState.MISSING:
                label += "\n(no such slice)"
            lines.append(f"    {quote(node.ref)} [label={quote(label)} {_STYLE[node.state]}];")
        lines.append("  }")
    for name in graph.distrofiles:
        lines.append(f"  {quote(distro_id(name))} [label={quote(name)} shape=note "
                     'style=filled fillcolor="#edf2ff" color="#5c7cfa"];')
    missing = {node.ref for node in graph.nodes if node.state is SliceState.MISSING}
    for edge in graph.edges:
        style = _EDGE[edge.kind]
        if edge.target in missing:
            style = ' [style=dashed color="#c92a2a"]'
        elif edge.kind in ("dep", "top") and edge.target.endswith("_copyright"):
            # Nearly every slice deps on its package's copyright: drawn faint.
            style = style[:-1] + ' color="#ced4da"]' if style else ' [color="#ced4da"]'
        lines.append(f"  {quote(edge.source)} -> {quote(edge.target)}{style};")
    if graph.legend:
        lines.append("  subgraph cluster_legend {")
        lines.append('    label="legend" style="rounded" color="#ced4da" fontcolor="#495057";')
        legend = _LEGEND + (((SliceState.MISSING, "missing"),) if missing else ())
        for state, text in legend:
            lines.append(f"    {quote('legend:' + text)} [label={quote(text)} "
                         f"{_STYLE[state]}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
