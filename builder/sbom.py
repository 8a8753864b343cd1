"""An SPDX 2.3 JSON SBOM of a built image: RPMs, the slices cut from them, their files.

Each RPM of each architecture is an SPDX package (name, EVR, NEVRA, license, the
repository checksum of the RPM and a purl); its comment lists the slices taken from
it. Every file in the image is an SPDX file with its SHA-256 and the slices that
selected it, related to its package by CONTAINS. Files the builder generated (base
files) or copied in (``files:`` of the Distrofile) belong to packages of their own,
so nothing in the image is unaccounted for. The document depends only on the
inputs: the same build gives the same SBOM.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.extract import PackageCut
from sdfgen import __version__
from sdfgen.facts import FileKind, PackageMeta

_CHECKSUM_NAMES = {"sha256": "SHA256", "sha1": "SHA1", "sha512": "SHA512", "md5": "MD5",
                   "sha384": "SHA384", "sha224": "SHA224"}


@dataclass(frozen=True)
class GeneratedFile:
    """A file that comes from the builder, not from an RPM."""

    path: str
    size: int
    sha256: str
    why: str


@dataclass(frozen=True)
class SbomArch:
    """What one architecture's image is made of."""

    arch: str
    packages: tuple[tuple[PackageMeta, PackageCut], ...]
    base_files: tuple[GeneratedFile, ...] = ()
    extra_files: tuple[GeneratedFile, ...] = ()


def _spdx_id(*parts: str) -> str:
    return "SPDXRef-" + "-".join(re.sub(r"[^A-Za-z0-9.]+", ".", part) for part in parts)


def _file(spdx_id: str, path: str, sha256: str, comment: str) -> dict[str, Any]:
    document: dict[str, Any] = {"SPDXID": spdx_id, "fileName": "." + path,
                                "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
                                "licenseConcluded": "NOASSERTION",
                                "copyrightText": "NOASSERTION"}
    if comment:
        document["comment"] = comment
    return document


def sbom_document(name: str, arches: Sequence[SbomArch], *, created_epoch: int,
                  image_digest: str) -> dict[str, Any]:
    """The SPDX 2.3 document (a JSON-ready dict) of the image ``name``."""
    created = datetime.fromtimestamp(created_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"sdfgen-builder:{name}:{image_digest}")
    packages: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    for arch in arches:
        for meta, cut in arch.packages:
            package_id = _spdx_id("Package", arch.arch, meta.name)
            slices = sorted({ref for f in cut.files for ref in f.slices})
            algorithm = _CHECKSUM_NAMES.get(meta.checksum_type.lower(),
                                            meta.checksum_type.upper())
            packages.append({
                "SPDXID": package_id,
                "name": meta.name,
                "versionInfo": str(meta.evr),
                "packageFileName": meta.location.rsplit("/", 1)[-1],
                "supplier": "NOASSERTION",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "checksums": [{"algorithm": algorithm, "checksumValue": meta.checksum}],
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": meta.license or "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "summary": meta.summary,
                "comment": f"NEVRA {meta.nevra}; slices: {', '.join(slices)}",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                    "referenceLocator": f"pkg:rpm/openeuler/{meta.name}@{meta.evr.version}-"
                                        f"{meta.evr.release}?arch={meta.arch}"
                                        + (f"&epoch={meta.evr.epoch}" if meta.evr.epoch else ""),
                }],
            })
            relationships.append({"spdxElementId": "SPDXRef-DOCUMENT",
                                  "relationshipType": "DESCRIBES",
                                  "relatedSpdxElement": package_id})
            for cut_file in cut.files:
                if cut_file.kind not in (FileKind.FILE, FileKind.HARDLINK):
                    continue
                file_id = _spdx_id("File", arch.arch, cut_file.path)
                files.append(_file(file_id, cut_file.path, cut_file.sha256,
                                   "slices: " + ", ".join(cut_file.slices)))
                relationships.append({"spdxElementId": package_id,
                                      "relationshipType": "CONTAINS",
                                      "relatedSpdxElement": file_id})
        for label, generated in (("builder-base-files", arch.base_files),
                                 ("distrofile-files", arch.extra_files)):
            if not generated:
                continue
            package_id = _spdx_id("Package", arch.arch, label)
            packages.append({
                "SPDXID": package_id, "name": label, "versionInfo": __version__,
                "supplier": "NOASSERTION", "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False, "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
                "comment": ("written by the sdfgen builder (no slice provided them)"
                            if label == "builder-base-files"
                            else "copied in by the Distrofile's builder-only 'files' key"),
            })
            relationships.append({"spdxElementId": "SPDXRef-DOCUMENT",
                                  "relationshipType": "DESCRIBES",
                                  "relatedSpdxElement": package_id})
            for item in generated:
                file_id = _spdx_id("File", arch.arch, item.path)
                files.append(_file(file_id, item.path, item.sha256, item.why))
                relationships.append({"spdxElementId": package_id,
                                      "relationshipType": "CONTAINS",
                                      "relatedSpdxElement": file_id})
    return {
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
