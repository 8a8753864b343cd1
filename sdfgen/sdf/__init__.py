"""The SDF format: Slice Definition Files as a semantic model and as YAML text.

In: SDF files (YAML). Out: :class:`~sdfgen.sdf.model.Sdf` models, round-trip documents
that keep comments and layout, and the semantic difference of two SDFs.

``globs`` (paths under splitter's and chisel's readings) -> ``limits`` (size, depth and
aliases of YAML input) -> ``document`` (the one YAML loader, also of Distrofiles: load,
edit and dump keeping comments; with ``limits`` the only ruamel.yaml modules) -> ``model``
(slices, path rules, deps) -> ``diff``.
"""
