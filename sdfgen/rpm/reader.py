"""Read an RPM once: header facts plus one streaming pass over the payload.

:func:`read_rpm` opens the file, reads the header with :mod:`sdfgen.rpm.header`
(rpmfile parses the lead, signature and main header) and walks the payload with
:mod:`sdfgen.rpm.payload`, whose pass is ours because rpmfile's payload code reads
zstd payloads fully into memory and seeks. The two make one :class:`RpmPackage`.

The payload digest is checked at the end of the pass, so a caller of ``on_content``
must discard what it wrote when RpmError is raised.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from sdfgen.errors import RpmError
from sdfgen.facts import Evr, RpmPackage
from sdfgen.rpm.cpio import CpioError
from sdfgen.rpm.header import (
    DIGEST_ALGOS,
    TAG_ARCH,
    TAG_BUILDTIME,
    TAG_EPOCH,
    TAG_FILEDIGESTALGO,
    TAG_LICENSE,
    TAG_NAME,
    TAG_PACKAGER,
    TAG_PROVIDEFLAGS,
    TAG_PROVIDENAME,
    TAG_PROVIDEVERSION,
    TAG_RELEASE,
    TAG_REQUIREFLAGS,
    TAG_REQUIRENAME,
    TAG_REQUIREVERSION,
    TAG_SOURCERPM,
    TAG_SUMMARY,
    TAG_URL,
    TAG_VENDOR,
    TAG_VERSION,
    capabilities,
    header_files,
    read_headers,
    tag_int,
    tag_ints,
    tag_str,
)
from sdfgen.rpm.payload import (
    READ_CHUNK,
    ContentSink,
    PathFilter,
    PayloadDigest,
    PayloadWalk,
    finish_payload,
    open_payload,
)


def read_rpm(
    path: str | Path,
    *,
    elf: bool = True,
    on_content: ContentSink | None = None,
    wants: PathFilter | None = None,
    elf_names: Collection[str] | None = None,
) -> RpmPackage:
    """Read the RPM at ``path`` in one pass and return its facts.

    ``elf``: analyse regular files that start with the ELF magic. ``on_content(file,
    stream)`` is called during the pass for each regular file whose path ``wants``
    accepts (all of them when ``wants`` is None), with a stream of its bytes; for a
    hardlink set it is called once, for the first accepted member. It is never called
    for unsafe or unknown payload entries. ``elf_names``: analyse only the ELF objects
    with these base names and those their symlinks of these names lead to (a provider
    read to resolve sonames); the other objects then have ``elf`` None. Raises
    RpmError for a file that is not an RPM, a corrupt or truncated header or payload,
    or an unknown compressor.
    """
    name = str(path)
    try:
        fileobj = open(path, "rb", buffering=READ_CHUNK)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RpmError(f"{name}: cannot open: {exc.strerror or exc}") from exc
    with fileobj:
        headers = read_headers(fileobj, name)
        files = header_files(headers, name)
        digester = PayloadDigest(fileobj, headers)
        compressor, payload = open_payload(digester, headers, name)
        walk = PayloadWalk(name, files, elf, on_content, wants, elf_names)
        try:
            walk.run(payload)
        except CpioError as exc:
            raise RpmError(f"{name}: {exc}") from exc
        finish_payload(payload)
        digester.verify(name)
    algo = tag_ints(headers, TAG_FILEDIGESTALGO)
    return RpmPackage(
        name=tag_str(headers, TAG_NAME),
        evr=Evr(tag_int(headers, TAG_EPOCH), tag_str(headers, TAG_VERSION),
                tag_str(headers, TAG_RELEASE)),
        arch=tag_str(headers, TAG_ARCH),
        license=tag_str(headers, TAG_LICENSE),
        summary=tag_str(headers, TAG_SUMMARY),
        sourcerpm=tag_str(headers, TAG_SOURCERPM),
        buildtime=tag_int(headers, TAG_BUILDTIME),
        vendor=tag_str(headers, TAG_VENDOR),
        packager=tag_str(headers, TAG_PACKAGER),
        url=tag_str(headers, TAG_URL),
        provides=capabilities(headers, TAG_PROVIDENAME, TAG_PROVIDEFLAGS, TAG_PROVIDEVERSION),
        requires=tuple(
            cap for cap in capabilities(headers, TAG_REQUIRENAME, TAG_REQUIREFLAGS,
                                        TAG_REQUIREVERSION)
            # rpmlib() requirements are rpm features, not packages; primary.xml
            # (createrepo_c) drops them too, so both sources agree.
            if not cap.name.startswith("rpmlib(")
        ),
        payload_compressor=compressor,
        digest_algo=DIGEST_ALGOS.get(algo[0], str(algo[0])) if algo else "md5",
        files=walk.package_files(),
        problems=tuple(walk.problems),
    )
