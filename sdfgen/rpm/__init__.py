"""Package facts: what an RPM holds and what its ELF objects need.

In: verified RPM files from :mod:`sdfgen.repo`. Out: :class:`~sdfgen.facts.RpmPackage`
(header facts, every payload entry with its flags, ELF and script facts), the
resolution of each NEEDED soname to a providing package and file, and the files of the
repositories that ELF objects open by name.

``header`` (the RPM header, through rpmfile) and ``payload`` (one streaming pass over the
payload, ``cpio``) make ``reader``'s :func:`read_rpm`; ``elf`` (the one pyelftools module)
reads ELF facts (with the absolute paths of ``.rodata``); ``lddtree`` and ``needed``
resolve sonames as ld.so would; ``opened`` finds the shipped files ELF objects name;
``session`` ties a command's repositories to read packages; ``inspect`` reports a package
per arch.
"""
