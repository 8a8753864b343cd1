"""Repository access: where packages come from and which one is newest.

In: a release and mirror, ``--repo`` URLs or directories, dnf ``.repo`` files, an arch.
Out: per-arch :class:`~sdfgen.repo.index.Repository` objects that answer package, Provides
and path lookups with :class:`~sdfgen.facts.PackageMeta`, and verified local copies of
metadata files and RPMs.

``sources`` (where the repositories are) -> ``fetch`` (verified, bounded, cached
downloads; ``transport`` for timeouts and the deadline, ``cache`` for the checked names
and confined paths) -> ``repomd``/``metadata`` (repomd.xml, streaming primary/filelists
parsers) -> ``index`` (the per-arch package index); ``evr`` is rpm's version comparison.
"""
