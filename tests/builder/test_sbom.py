"""The SBOM: valid SPDX 2.3 and NTIA-conformant, by the real validators, on a real image.

The python sample image is built from the sample repository served over HTTP on
127.0.0.1 (it holds the ids that used to collide: tzdata's ``Etc/GMT+1`` and
``Etc/GMT-1``, Python's ``_collections_abc.py`` and ``collections/abc.py``, and the
``LicenseRef-Public-Domain`` licence of tzdata and xz); spdx-tools parses and
validates it, ntia-conformance-checker checks the minimum elements, and every file's
checksums are recomputed from the image's layers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from ntia_conformance_checker import SbomChecker
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from builder.cli import main
from builder.licenses import LEGACY, SPDX_EXCEPTIONS, SPDX_IDS, map_licenses
from builder.oci_read import unpack_image
from builder.platform import parse_platform
from builder.sbom import _SpdxIds, supplier
from sdfgen.facts import Evr, RpmPackage

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def python_image(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str) -> Path:
    """The python sample image, built once for this module."""
    base = tmp_path_factory.mktemp("sbom")
    out = base / "python"
    assert main(["build", str(SAMPLES / "distrofiles" / "python.yaml"), "--sdf-dir",
                 str(SAMPLES / "sdf"), "-o", str(out), "--mirror", sample_mirror,
                 "--cache-dir", str(base / "cache"), "-q"]) == 0
    return out


@pytest.mark.slow
def test_spdx_tools_finds_the_sbom_valid(python_image: Path) -> None:
    document = parse_file(str(python_image / "sbom.spdx.json"))
    messages = validate_full_spdx_document(document)
    assert [m.validation_message for m in messages] == []
    assert len(document.files) > 2000 and len(document.packages) > 30


@pytest.mark.slow
def test_ntia_checker_finds_the_sbom_conformant(python_image: Path) -> None:
    checker = SbomChecker(str(python_image / "sbom.spdx.json"))
    assert checker.parsing_errors == []
    assert [m.validation_message for m in checker.validation_messages] == []
    assert checker.components_without_suppliers == []
    assert checker.compliant


@pytest.mark.slow
def test_checksums_are_those_of_the_files_in_the_image(python_image: Path,
                                                       tmp_path: Path) -> None:
    sbom = json.loads((python_image / "sbom.spdx.json").read_text())
    files = {f["SPDXID"]: f for f in sbom["files"]}
    assert len(files) == len(sbom["files"]), "file ids are unique"
    ids = [f["SPDXID"] for f in sbom["files"]] + [p["SPDXID"] for p in sbom["packages"]]
    assert len(ids) == len(set(ids))
    for machine, platform in (("x86_64", "linux/amd64"), ("aarch64", "linux/arm64")):
        rootfs = tmp_path / machine
        unpack_image(python_image, parse_platform(platform), rootfs)
        mine = [f for f in sbom["files"] if f["SPDXID"].startswith(
            f"SPDXRef-File-{machine.replace('_', '.')}-")]
        assert mine
        for entry in mine:
            data = (rootfs / entry["fileName"]).read_bytes()
            assert entry["checksums"] == [
                {"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()},
                {"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()}]
    # Each package's verification code is the SHA-1 of its files' sorted SHA-1s (7.9).
    contained: dict[str, list[str]] = {}
    for rel in sbom["relationships"]:
        if rel["relationshipType"] == "CONTAINS":
            contained.setdefault(rel["spdxElementId"], []).append(rel["relatedSpdxElement"])
    for package in sbom["packages"]:
        sha1s = sorted(files[i]["checksums"][0]["checksumValue"]
                       for i in contained[package["SPDXID"]])
        assert package["filesAnalyzed"] is True
        assert package["packageVerificationCode"]["packageVerificationCodeValue"] == \
            hashlib.sha1("".join(sha1s).encode()).hexdigest()


@pytest.mark.slow
def test_sbom_names_suppliers_licences_and_the_colliding_paths(python_image: Path) -> None:
    sbom = json.loads((python_image / "sbom.spdx.json").read_text())
    by_name = {(p["name"], p["SPDXID"].split("-")[2]): p for p in sbom["packages"]}
    tzdata = by_name["tzdata", "x86.64"]
    assert tzdata["supplier"] == "Organization: sdfgen sample repository"  # its Vendor tag
    assert tzdata["licenseDeclared"] == "LicenseRef-Public-Domain"
    assert tzdata["licenseComments"] == "RPM License tag: LicenseRef-Public-Domain"
    assert tzdata["homepage"] == "https://www.debian.org/distrib/packages"
    purls = [p["externalRefs"][0]["referenceLocator"] for p in sbom["packages"]
             if p.get("externalRefs")]
    assert len(purls) == len(sbom["packages"]) - 4  # all but the builder's own packages
    assert all("+" not in purl for purl in purls)  # a purl encodes it as %2B
    assert by_name["bzip2-libs", "aarch64"]["externalRefs"][0]["referenceLocator"].startswith(
        "pkg:rpm/openeuler/bzip2-libs@1.0.8-5%2Bb1.oe2403?arch=aarch64")
    assert sbom["hasExtractedLicensingInfos"] == [{
        "licenseId": "LicenseRef-Public-Domain", "extractedText": "LicenseRef-Public-Domain",
        "name": "LicenseRef-Public-Domain",
        "comment": "a term of an RPM License tag that names no single SPDX license; the RPM "
                   "header carries the name, not the licence text"}]
    assert by_name["glibc", "aarch64"]["licenseDeclared"] == \
        "LGPL-2.1-or-later AND GPL-2.0-or-later AND BSD-3-Clause AND ISC"
    assert by_name["builder-base-files", "x86.64"]["supplier"] == \
        "Organization: sdfgen builder"
    names = {f["fileName"]: f["SPDXID"] for f in sbom["files"]
             if f["SPDXID"].startswith("SPDXRef-File-x86.64-")}
    for one, other in (("./usr/share/zoneinfo/Etc/GMT+1", "./usr/share/zoneinfo/Etc/GMT-1"),
                       ("./usr/lib/python3.11/_collections_abc.py",
                        "./usr/lib/python3.11/collections/abc.py")):
        assert names[one] != names[other]
    assert names["./usr/share/zoneinfo/Etc/GMT+1"].startswith(
        "SPDXRef-File-x86.64-usr.share.zoneinfo.Etc.GMT.1-")


def test_spdx_ids_are_unique_readable_and_stable() -> None:
    ids = _SpdxIds()
    plus, minus = ids("File", "x86_64", "/Etc/GMT+1"), ids("File", "x86_64", "/Etc/GMT-1")
    assert plus != minus and plus.startswith("SPDXRef-File-x86.64-Etc.GMT.1-")
    assert ids("File", "x86_64", "/Etc/GMT+1") == plus  # asked again: the same id
    assert _SpdxIds()("File", "x86_64", "/Etc/GMT-1") == minus  # in another document too
    assert ids("File", "aarch64", "/Etc/GMT+1") != plus


def _rpm(vendor: str = "", packager: str = "") -> RpmPackage:
    return RpmPackage("zlib", Evr(0, "1.3", "1"), "x86_64", vendor=vendor, packager=packager)


def test_supplier_comes_from_vendor_then_packager() -> None:
    assert supplier(_rpm("openEuler", "http://openeuler.org")) == "Organization: openEuler"
    assert supplier(_rpm("(none)", "openEuler Team <infra@openeuler.sh>")) == \
        "Organization: openEuler Team (infra@openeuler.sh)"
    assert supplier(_rpm("", "http://openeuler.org")) == "Organization: http://openeuler.org"
    assert supplier(_rpm("ACME (Europe) Ltd")) == "Organization: ACME  Europe  Ltd"
    assert supplier(_rpm()) == "NOASSERTION"


@pytest.mark.parametrize(("tag", "expression"), [
    ("MIT", "MIT"),
    ("zlib", "Zlib"),  # SPDX ids match case-insensitively; the canonical case is written
    ("GPLv2+ and LGPLv2.1+", "GPL-2.0-or-later AND LGPL-2.1-or-later"),
    ("ASL 2.0 or (MIT and BSD)", "Apache-2.0 OR (MIT AND LicenseRef-BSD)"),
    ("GPLv3+ with exceptions", "LicenseRef-GPLv3-or-later-with-exceptions"),
    ("GPL-3.0-or-later with GCC-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"),
    ("GPLv2+ and LGPLv2+", "GPL-2.0-or-later AND LicenseRef-LGPLv2-or-later"),  # 2.0 or 2.1?
    ("Public Domain", "LicenseRef-Public-Domain"),
    ("GPLv2+, LGPLv2+", "LicenseRef-GPLv2-or-later-LGPLv2-or-later"),  # not an expression
    ("(MIT or", "LicenseRef-MIT-or"),
    ("", "NOASSERTION"),
    ("(none)", "NOASSERTION"),
])
def test_rpm_license_tags_become_spdx_expressions(tag: str, expression: str) -> None:
    mapping = map_licenses([tag])
    assert mapping.expressions[tag] == expression
    refs = {e["licenseId"]: e["extractedText"] for e in mapping.extracted}
    assert sorted(refs) == sorted(t for t in expression.replace("(", " ").replace(
        ")", " ").split() if t.startswith("LicenseRef-"))
    assert spdx_licensing.validate(expression.replace("NOASSERTION", "MIT"),
                                   strict=True).errors == [] or refs


def test_license_refs_never_merge_two_terms() -> None:
    mapping = map_licenses(["LicenseRef-Public-Domain", "Public Domain", "Public  Domain"])
    assert mapping.expressions["LicenseRef-Public-Domain"] == "LicenseRef-Public-Domain"
    other = mapping.expressions["Public Domain"]
    assert other.startswith("LicenseRef-Public-Domain-") and other != "LicenseRef-Public-Domain"
    assert mapping.expressions["Public  Domain"] == other  # the same term, spaced otherwise
    texts: dict[str, Any] = {e["licenseId"]: e["extractedText"] for e in mapping.extracted}
    assert texts == {"LicenseRef-Public-Domain": "LicenseRef-Public-Domain",
                     other: "Public Domain"}


def test_license_tables_hold_only_spdx_ids() -> None:
    known = spdx_licensing.known_symbols
    for name in sorted(SPDX_IDS | set(LEGACY.values()) | SPDX_EXCEPTIONS):
        assert name in known and not name.startswith("LicenseRef-"), name
        assert known[name].key == name, f"{name} is an alias of {known[name].key}"
    for name in SPDX_EXCEPTIONS:
        assert known[name].is_exception, name
