"""Parse repomd.xml, the index of a repository's metadata files.

repomd.xml is small, so it is parsed whole with ElementTree (unlike primary and
filelists, see :mod:`sdfgen.repo.metadata`). Each ``<data>`` becomes a
:class:`RepoMdRecord` giving a metadata file's location, checksums and sizes; its
``xml:base`` is kept, since a mirror may serve the files from elsewhere. Checksums and
file names become cache paths, so each record is checked here (by
:mod:`sdfgen.repo.cache`), before anything is fetched.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sdfgen.errors import RepoError
from sdfgen.repo.cache import base_name, checked_checksum

_REPO_NS = "{http://linux.duke.edu/metadata/repo}"  # ElementTree's spelling
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


@dataclass(frozen=True)
class RepoMdRecord:
    """One ``<data type=...>`` of repomd.xml."""

    data_type: str  # primary, filelists, other, primary_db, ...
    location: str  # href relative to the repository's base URL; a plain base name last
    checksum_type: str  # hashlib's name: sha256, sha1, ...
    checksum: str  # lower-case hex of the algorithm's length
    open_checksum_type: str = ""
    open_checksum: str = ""
    size: int | None = None
    open_size: int | None = None
    timestamp: int = 0
    location_base: str | None = None  # xml:base of <location>, if any


@dataclass(frozen=True)
class RepoMd:
    """Parsed repomd.xml: its revision and data records by type."""

    revision: str
    records: tuple[RepoMdRecord, ...]

    def record(self, data_type: str) -> RepoMdRecord | None:
        """The record of ``data_type`` (``primary``, ``filelists``), or None."""
        for record in self.records:
            if record.data_type == data_type:
                return record
        return None


def parse_repomd(data: bytes, url: str) -> RepoMd:
    """Parse repomd.xml content fetched from ``url``; RepoError when it is not valid.

    A record with an unsupported checksum type, a checksum that is not hex of its
    algorithm's length or a location that does not end in a plain file name is refused
    with a RepoError naming ``url``, the record and the bad value.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RepoError(f"{url}: not a valid repomd.xml: {exc}") from None
    if root.tag != f"{_REPO_NS}repomd":
        raise RepoError(f"{url}: not a repomd.xml (root element {_local(root.tag)!r})")
    records = []
    for data_elem in root.iter(f"{_REPO_NS}data"):
        data_type = data_elem.get("type", "")
        location = data_elem.find(f"{_REPO_NS}location")
        checksum = data_elem.find(f"{_REPO_NS}checksum")
        if location is None or not location.get("href") or checksum is None or not checksum.text:
            raise RepoError(f"{url}: <data type={data_type!r}> lacks a location or checksum")
        where = f"{url} <data type={data_type!r}>"
        href = location.get("href", "")
        base_name(href, where)
        checksum_name, checksum_hex = checked_checksum(checksum.get("type", "sha256"),
                                                       checksum.text.strip(), where)
        open_checksum = data_elem.find(f"{_REPO_NS}open-checksum")
        records.append(RepoMdRecord(
            data_type=data_type,
            location=href,
            checksum_type=checksum_name,
            checksum=checksum_hex,
            open_checksum_type=open_checksum.get("type", "") if open_checksum is not None else "",
            open_checksum=(open_checksum.text or "").strip() if open_checksum is not None else "",
            size=_size(data_elem.findtext(f"{_REPO_NS}size")),
            open_size=_int_or_none(data_elem.findtext(f"{_REPO_NS}open-size")),
            timestamp=_int_or_none(data_elem.findtext(f"{_REPO_NS}timestamp")) or 0,
            location_base=location.get(_XML_BASE),
        ))
    revision = (root.findtext(f"{_REPO_NS}revision") or "").strip()
    return RepoMd(revision, tuple(records))


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _size(text: str | None) -> int | None:
    """A byte count, or None when it is missing or not a non-negative integer."""
    value = _int_or_none(text)
    return value if value is not None and value >= 0 else None


def _local(tag: str) -> str:
    """The local name of an ElementTree tag (``{uri}name``)."""
    return tag.rpartition("}")[2]
