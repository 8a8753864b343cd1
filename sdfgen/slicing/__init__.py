"""Slicing and proposing: from package facts and file roles to an SDF.

In: :class:`~sdfgen.facts.RpmPackage` per arch, roles from :mod:`sdfgen.roles`, the
SDFs of other packages from :mod:`sdfgen.sdf`. Out: a
:class:`~sdfgen.slicing.proposal.Proposal` and its SDF text (new, or merged into a human's
SDF).

``plan`` (which slice each file goes into) -> ``placement`` (``common`` or ``extra``, and
as which glob) -> ``proposal`` (slices, deps, comments; pure) -> ``emit`` (SDF text) and
``update`` (merge into an existing SDF); ``proposer`` is the I/O side that reads the
packages, resolves providers and names their slices. ``sliceable`` says which payload
entries a slice may carry at all: the one predicate propose, ``sdfgen check`` and the
builder share.
"""
