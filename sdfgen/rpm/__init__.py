"""Package facts: what an RPM holds and what its ELF objects need.

In: verified RPM files from :mod:`sdfgen.repo`. Out: :class:`~sdfgen.facts.RpmPackage`
(header facts, every payload entry with its flags, ELF and script facts) and the
resolution of each NEEDED soname to a providing package and file.

``header`` (the RPM header, through rpmfile) and ``payload`` (one streaming pass over the
payload, ``cpio``) make ``reader``'s :func:`read_rpm`; ``elf`` (the one pyelftools module)
reads ELF facts; ``lddtree`` and ``needed`` resolve sonames as ld.so would; ``session``
ties a command's repositories to read packages; ``inspect`` reports a package per arch.
"""
