"""An SPDX 2.3 JSON SBOM of a built image: RPMs, the slices cut from them, their files.

Each RPM of each architecture is an SPDX package (name, EVR, supplier from its Vendor
or Packager tag, licence as an SPDX expression, the repository checksum of the RPM,
its home page and a purl); its comment lists the slices taken from it. Every regular
file in the image is an SPDX file with the SHA-1 and SHA-256 of its bytes as the
image holds them and the slices that selected it, related to its package by
CONTAINS; a package's files are analyzed, and its verification code is computed from
the files the image has of it. Files the builder generated (base files) or copied in
(``files:`` of the Distrofile) belong to packages of their own, so nothing in the
image is unaccounted for. SPDX ids are a readable part plus a hash of the exact name,
so they are unique and the same in every build. The document depends only on the
inputs: the same build gives the same SBOM.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from builder.errors import BuildError
from builder.extract import PackageCut
from builder.licenses import map_licenses
from builder.tree import walk_rootfs
from sdfgen import __version__
from sdfgen.facts import FileKind, PackageMeta, RpmPackage

_CHECKSUM_NAMES = {"sha256": "SHA256", "sha1": "SHA1", "sha512": "SHA512", "md5": "MD5",
                   "sha384": "SHA384", "sha224": "SHA224"}
BUILDER_SUPPLIER = "Organization: sdfgen builder"


@dataclass(frozen=True)
class FileDigest:
    """The SHA-1 and SHA-256 (hex) of a file's bytes as written into the image."""

    sha1: str
    sha256: str


@dataclass(frozen=True)
class GeneratedFile:
    """A file that comes from the builder, not from an RPM."""

    path: str
    size: int
    sha256: str
    why: str


@dataclass(frozen=True)
class SbomArch:
    """What one architecture's image is made of; ``digests`` from :func:`rootfs_digests`."""

    arch: str
    packages: tuple[tuple[PackageMeta, PackageCut], ...]
    base_files: tuple[GeneratedFile, ...] = ()
    extra_files: tuple[GeneratedFile, ...] = ()
    digests: Mapping[str, FileDigest] = field(default_factory=dict)


def rootfs_digests(rootfs: Path) -> dict[str, FileDigest]:
    """The digests of every regular file under ``rootfs``, keyed by absolute image path.

    The rootfs is walked without following symlinks; hard-linked files are read once.
    """
    digests: dict[str, FileDigest] = {}
    by_inode: dict[tuple[int, int], FileDigest] = {}
    for entry in walk_rootfs(rootfs):
        if not stat.S_ISREG(entry.st.st_mode):
            continue
        key = (entry.st.st_dev, entry.st.st_ino)
        digest = by_inode.get(key)
        if digest is None:
            sha1, sha256 = hashlib.sha1(), hashlib.sha256()
            with open(entry.host_path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    sha1.update(chunk)
                    sha256.update(chunk)
            digest = by_inode[key] = FileDigest(sha1.hexdigest(), sha256.hexdigest())
        digests["/" + entry.path] = digest
    return digests


class _SpdxIds:
    """SPDX ids: ``SPDXRef-<kind>-<arch>-<readable name>-<hash of the exact name>``.

    The readable part alone is not unique (``Etc/GMT+1`` and ``Etc/GMT-1`` read the
    same), so a hash of the exact name follows it; should two hashes' prefixes meet,
    the later name gets a longer one. Ids depend only on the names.
    """

    def __init__(self) -> None:
        self._owner: dict[str, tuple[str, ...]] = {}

    def __call__(self, *parts: str) -> str:
        readable = "-".join(re.sub(r"[^A-Za-z0-9.]+", ".", part).strip(".") or "x"
                            for part in parts)
        digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
        for length in (8, 16, 64):
            spdx_id = f"SPDXRef-{readable}-{digest[:length]}"
            if self._owner.setdefault(spdx_id, parts) == parts:
                return spdx_id
        raise AssertionError(f"SHA-256 collision between {parts} and {self._owner[spdx_id]}")


def supplier(rpm: RpmPackage) -> str:
    """The SPDX supplier of an RPM: its Vendor, else its Packager, else NOASSERTION."""
    for value in (rpm.vendor, rpm.packager):
        value = value.strip()
        if not value or value == "(none)":
            continue
        # "Name <mail>" -> "Name (mail)"; the actor grammar keeps parentheses for the mail.
        match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", value)
        name, mail = match.groups() if match else (value, "")
        name = re.sub(r"[()]", " ", name).strip() or mail
        return f"Organization: {name}" + (f" ({mail})" if mail and name != mail else "")
    return "NOASSERTION"


def _homepage(url: str) -> dict[str, str]:
    url = url.strip()
    return {"homepage": url} if re.fullmatch(r"https?://[^\s/$.?#][^\s]*", url) else {}


def _purl(meta: PackageMeta) -> str:
    """The package URL; name and version percent-encoded (``+`` is ``%2B`` in a purl)."""
    name, version = (quote(part, safe=".-_~") for part in (
        meta.name, f"{meta.evr.version}-{meta.evr.release}"))
    epoch = f"&epoch={meta.evr.epoch}" if meta.evr.epoch else ""
    return f"pkg:rpm/openeuler/{name}@{version}?arch={meta.arch}{epoch}"


def _file(spdx_id: str, path: str, digest: FileDigest, comment: str) -> dict[str, Any]:
    document: dict[str, Any] = {"SPDXID": spdx_id, "fileName": "." + path,
                                "checksums": [{"algorithm": "SHA1", "checksumValue": digest.sha1},
                                              {"algorithm": "SHA256",
                                               "checksumValue": digest.sha256}],
                                "licenseConcluded": "NOASSERTION",
                                "copyrightText": "NOASSERTION"}
    if comment:
        document["comment"] = comment
    return document


def _verification(files: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """filesAnalyzed and the package verification code (SPDX 2.3 section 7.9) of ``files``."""
    if not files:
        return {"filesAnalyzed": False}
    sha1s = sorted(f["checksums"][0]["checksumValue"] for f in files)
    code = hashlib.sha1("".join(sha1s).encode()).hexdigest()
    return {"filesAnalyzed": True,
            "packageVerificationCode": {"packageVerificationCodeValue": code}}


def _digest(arch: SbomArch, path: str) -> FileDigest:
    try:
        return arch.digests[path]
    except KeyError:
        raise BuildError(f"SBOM of {arch.arch}: {path} is not a regular file of the "
                         "rootfs") from None


def sbom_document(name: str, arches: Sequence[SbomArch], *, created_epoch: int,
                  image_digest: str, image_vendor: str = "") -> dict[str, Any]:
    """The SPDX 2.3 document (a JSON-ready dict) of the image ``name``.

    ``image_vendor`` is the organisation that supplies the Distrofile's own files (its
    ``org.opencontainers.image.vendor`` label; default: the builder). Raises
    BuildError if a file of the image has no digest in its arch.
    """
    created = datetime.fromtimestamp(created_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"sdfgen-builder:{name}:{image_digest}")
    licenses = map_licenses(meta.license for arch in arches for meta, _ in arch.packages)
    spdx_id = _SpdxIds()
    packages: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []

    def add_package(package: dict[str, Any], package_files: list[dict[str, Any]]) -> None:
        package.update(_verification(package_files))
        packages.append(package)
        files.extend(package_files)
        relationships.append({"spdxElementId": "SPDXRef-DOCUMENT",
                              "relationshipType": "DESCRIBES",
                              "relatedSpdxElement": package["SPDXID"]})
        relationships.extend({"spdxElementId": package["SPDXID"],
                              "relationshipType": "CONTAINS",
                              "relatedSpdxElement": f["SPDXID"]} for f in package_files)

    for arch in arches:
        for meta, cut in arch.packages:
            slices = sorted({ref for f in cut.files for ref in f.slices})
            algorithm = _CHECKSUM_NAMES.get(meta.checksum_type.lower(),
                                            meta.checksum_type.upper())
            package_files = [
                _file(spdx_id("File", arch.arch, f.path), f.path, _digest(arch, f.path),
                      "slices: " + ", ".join(f.slices))
                for f in cut.files if f.kind in (FileKind.FILE, FileKind.HARDLINK)]
            add_package({
                "SPDXID": spdx_id("Package", arch.arch, meta.name),
                "name": meta.name,
                "versionInfo": str(meta.evr),
                "packageFileName": meta.location.rsplit("/", 1)[-1],
                "supplier": supplier(cut.rpm),
                "downloadLocation": "NOASSERTION",
                **_homepage(cut.rpm.url),
                "checksums": [{"algorithm": algorithm, "checksumValue": meta.checksum}],
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": licenses.expressions[meta.license],
                "licenseComments": f"RPM License tag: {meta.license or '(none)'}",
                "copyrightText": "NOASSERTION",
                "summary": meta.summary,
                "comment": f"NEVRA {meta.nevra}; slices: {', '.join(slices)}; the files "
                           "analyzed are those the slices took into the image",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                    "referenceLocator": _purl(meta),
                }],
            }, package_files)
        for label, generated in (("builder-base-files", arch.base_files),
                                 ("distrofile-files", arch.extra_files)):
            if not generated:
                continue
            own = label == "builder-base-files"
            add_package({
                "SPDXID": spdx_id("Package", arch.arch, label), "name": label,
                "versionInfo": __version__,
                "supplier": (f"Organization: {re.sub(r'[()]', ' ', image_vendor).strip()}"
                             if image_vendor.strip() and not own else BUILDER_SUPPLIER),
                "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
                "comment": ("written by the sdfgen builder (no slice provided them)" if own
                            else "copied in by the Distrofile's builder-only 'files' key"),
            }, [_file(spdx_id("File", arch.arch, item.path), item.path,
                      _digest(arch, item.path), item.why) for item in generated])
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"urn:uuid:{namespace}",
        "creationInfo": {"created": created,
                         "creators": [f"Tool: sdfgen-builder-{__version__}"]},
        "comment": f"image index {image_digest}",
        "packages": packages,
        "files": files,
        "relationships": relationships,
    }
    if licenses.extracted:
        document["hasExtractedLicensingInfos"] = list(licenses.extracted)
    return document


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` as indented JSON to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
