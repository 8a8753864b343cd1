"""Reviewing a change of SDFs: a pull-request report and slice dependency graphs.

In: two SDF sets (directories, or trees of git revisions), the repositories, the
Distrofiles beside them. Out: Markdown (``sdfgen review``), and the slice graph as DOT,
SVG or PNG (``sdfgen graph``).

``sources`` (directories, ``git archive`` of ``REV:PATH``) -> ``collect`` (builds, the
package's own file changes, :mod:`sdfgen.sdf.diff` per package, who uses each slice
added, removed or renamed, ``sdfgen check`` of the new set) -> ``report`` (Markdown);
``graph`` (the graph as data and DOT text) -> ``dot`` (Graphviz's ``dot``, the one
subprocess). ``distros`` reads Distrofiles and their closures through
:mod:`builder.distrofile` and :mod:`builder.closure`: review is the last step of both
flows, and those two builder modules import only :mod:`sdfgen.sdf`.
"""
