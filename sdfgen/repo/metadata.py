"""Streaming parsers for a repository's primary.xml and filelists.xml.

primary.xml of a full openEuler repository is 100+ MB uncompressed, so it is never
loaded as a DOM: expat is fed decompressed chunks and each ``<package>`` becomes a
compact :class:`PrimaryRecord` (plain values, cheap to store in the index) as soon as it
is complete. :func:`to_package_meta` makes the facts dataclass from a record.
The compression (gz, xz, bz2, zst or none) is detected from magic bytes, since mirrors
do not always name files after their content. repomd.xml, which locates these
files, is parsed by :mod:`sdfgen.repo.repomd`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import xml.parsers.expat as expat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Generic, NamedTuple, TypeVar

import zstandard

from sdfgen.errors import RepoError
from sdfgen.facts import Capability, Evr, PackageMeta
from sdfgen.repo.cache import base_name, checked_checksum

# expat's spelling ("URI local") of the namespaces.
_COMMON_NS = "http://linux.duke.edu/metadata/common"
_RPM_NS = "http://linux.duke.edu/metadata/rpm"
_FILELISTS_NS = "http://linux.duke.edu/metadata/filelists"
_XML_BASE_EXPAT = "http://www.w3.org/XML/1998/namespace base"

_CHUNK = 1024 * 1024
_R = TypeVar("_R")

# (name, flags, epoch, version, release); flags and the EVR parts are None when unversioned.
Entry = tuple[str, "str | None", "str | None", "str | None", "str | None"]


class PrimaryRecord(NamedTuple):
    """A package of primary.xml in plain values (what the index stores)."""

    name: str
    arch: str
    epoch: int
    version: str
    release: str
    checksum_type: str
    checksum: str
    summary: str
    license: str
    location: str
    location_base: str | None
    size: int
    buildtime: int
    sourcerpm: str
    provides: list[Entry]
    requires: list[Entry]
    files: list[str]


def open_decompressed(path: Path) -> IO[bytes]:
    """``path`` opened for reading its decompressed content (gz, xz, bz2, zst or plain)."""
    raw = path.open("rb")
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        # read_across_frames: pzstd and some createrepo versions write several frames.
        return zstandard.ZstdDecompressor().stream_reader(  # type: ignore[return-value]
            raw, read_across_frames=True, closefd=True
        )
    return raw


def iter_primary(path: Path, label: str | None = None) -> Iterator[PrimaryRecord]:
    """Stream the packages of a (compressed) primary.xml as records.

    Raises RepoError naming the file (or ``label``, e.g. its URL) when it is corrupt,
    truncated or not primary.xml, or when a package's checksum or location could not
    safely name a file in the cache (see :mod:`sdfgen.repo.cache`).
    """
    return _parse(path, label or os.fspath(path), _PrimaryHandler())


def iter_filelists(path: Path, label: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """Stream filelists.xml as ``(pkgid, [paths])``; RepoError naming the file if corrupt."""
    return _parse(path, label or os.fspath(path), _FilelistsHandler())


def to_package_meta(record: PrimaryRecord, base_url: str, repo_id: str) -> PackageMeta:
    """The PackageMeta of a primary record from the repository at ``base_url``."""
    return PackageMeta(
        name=record.name,
        arch=record.arch,
        evr=Evr(record.epoch, record.version, record.release),
        summary=record.summary,
        license=record.license,
        location=record.location,
        base_url=record.location_base or base_url,
        repo_id=repo_id,
        checksum_type=record.checksum_type,
        checksum=record.checksum,
        size=record.size,
        sourcerpm=record.sourcerpm,
        buildtime=record.buildtime,
        provides=tuple(_capability(entry) for entry in record.provides),
        requires=tuple(_capability(entry) for entry in record.requires),
        files=tuple(record.files),
    )


def _capability(entry: Entry | list[str | None]) -> Capability:
    name, flags, epoch, version, release = entry
    if flags is None or version is None:
        return Capability(str(name), flags)
    return Capability(str(name), flags, Evr(int(epoch or 0), version, release or ""))


def _parse(path: Path, name: str, handler: _Handler[_R]) -> Iterator[_R]:
    """Feed the decompressed file to expat, yielding what ``handler`` completes."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    handler.bind(parser, name)
    try:
        with open_decompressed(path) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                parser.Parse(chunk, False)
                if handler.done:
                    yield from handler.done
                    handler.done.clear()
            parser.Parse(b"", True)
        handler.finish()
    except expat.ExpatError as exc:
        raise RepoError(
            f"{name}: corrupt or truncated metadata: {expat.ErrorString(exc.code)} "
            f"at line {exc.lineno}, column {exc.offset}"
        ) from None
    except (EOFError, OSError, lzma.LZMAError, zlib.error, zstandard.ZstdError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise RepoError(f"{name}: corrupt or truncated metadata: {detail}") from None
    except (ValueError, KeyError) as exc:
        raise RepoError(f"{name}: malformed package entry: {exc}") from None
    yield from handler.done


class _Handler(Generic[_R]):
    """Expat callbacks that collect completed items in ``done``.

    For speed the callbacks do as little as possible per element: character data and
    end-element callbacks are switched on only inside the few text elements wanted
    (a package ends when the next one starts or the document ends), so the whitespace
    and the descriptions between elements never reach Python.
    """

    root = ""

    def __init__(self) -> None:
        self.done: list[_R] = []
        self._text: list[str] = []
        self._text_key = ""
        self._name = ""
        self._parser: Any = None
        self._started = False

    def bind(self, parser: Any, name: str) -> None:
        self._parser = parser
        self._name = name
        parser.StartElementHandler = self._first_start

    def finish(self) -> None:
        if not self._started:
            raise RepoError(f"{self._name}: corrupt or truncated metadata: empty document")
        self._flush()

    def _first_start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag != self.root:
            raise RepoError(f"{self._name}: expected a <{_local(self.root)}> document, "
                            f"found <{_local(tag)}>")
        self._started = True
        self._parser.StartElementHandler = self._start

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        raise NotImplementedError

    def _collect_text(self, key: str) -> None:
        self._text_key = key
        self._text = []
        self._parser.CharacterDataHandler = self._text.append
        self._parser.EndElementHandler = self._end_text

    def _end_text(self, tag: str) -> None:
        self._parser.CharacterDataHandler = None
        self._parser.EndElementHandler = None
        self._got_text(self._text_key, "".join(self._text))

    def _got_text(self, key: str, text: str) -> None:
        raise NotImplementedError


class _PrimaryHandler(_Handler[PrimaryRecord]):
    root = f"{_COMMON_NS} metadata"

    def __init__(self) -> None:
        super().__init__()
        self._in_package = False
        self._caps: list[Entry] | None = None
        self._reset()

    def _reset(self) -> None:
        self._values: dict[str, str] = {}
        self._epoch = 0
        self._version = self._release = ""
        self._checksum_type = "sha256"
        self._location = ""
        self._location_base: str | None = None
        self._size = self._buildtime = 0
        self._provides: list[Entry] = []
        self._requires: list[Entry] = []
        self._files: list[str] = []
        self._caps = None

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == _ENTRY:  # by far the most frequent element: keep this path short
            caps = self._caps
            if caps is not None:
                get = attrs.get
                caps.append((get("name") or "", get("flags"), get("epoch"), get("ver"),
                             get("rel")))
            return
        key = _PRIMARY_TEXT.get(tag)
        if key is not None:
            if key == "checksum":
                self._checksum_type = attrs.get("type") or "sha256"
            self._collect_text(key)
        elif tag == _PROVIDES:
            self._caps = self._provides
        elif tag == _REQUIRES:
            self._caps = self._requires
        elif tag == _PACKAGE:
            self._flush()
            self._in_package = True
        elif tag == _VERSION:
            self._epoch = int(attrs.get("epoch") or 0)
            self._version = attrs.get("ver") or ""
            self._release = attrs.get("rel") or ""
        elif tag == _LOCATION:
            self._location = attrs.get("href") or ""
            self._location_base = attrs.get(_XML_BASE_EXPAT)
        elif tag == _TIME:
            self._buildtime = int(attrs.get("build") or 0)
        elif tag == _SIZE:
            self._size = int(attrs.get("package") or 0)
        else:
            # conflicts, obsoletes, recommends, ...: their entries are not kept.
            self._caps = None

    def _got_text(self, key: str, text: str) -> None:
        if key == "file":
            self._files.append(text)
        else:
            self._values[key] = text

    def _flush(self) -> None:
        if not self._in_package:
            return
        values = self._values
        name, arch = values.get("name", ""), values.get("arch", "")
        checksum = values.get("checksum", "").strip()
        if not name or not arch or not self._version or not checksum:
            raise RepoError(f"{self._name}: malformed package entry "
                            f"{name or '?'}: lacks name, arch, version or checksum")
        # Checksum and file name become cache paths: refuse bad ones before any use.
        where = f"{self._name}: package {name!r}"
        checksum_type, checksum = checked_checksum(self._checksum_type, checksum, where)
        base_name(self._location, where)
        if self._size < 0:
            raise RepoError(f"{where}: negative package size {self._size}")
        self.done.append(PrimaryRecord(
            name, arch, self._epoch, self._version, self._release, checksum_type,
            checksum, values.get("summary", ""), values.get("license", ""), self._location,
            self._location_base, self._size, self._buildtime, values.get("sourcerpm", ""),
            self._provides, self._requires, self._files,
        ))
        self._in_package = False
        self._reset()


class _FilelistsHandler(_Handler[tuple[str, list[str]]]):
    root = f"{_FILELISTS_NS} filelists"

    def __init__(self) -> None:
        super().__init__()
        self._pkgid: str | None = None
        self._files: list[str] = []

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == _FL_FILE:
            self._collect_text("file")
        elif tag == _FL_PACKAGE:
            self._flush()
            self._pkgid = attrs.get("pkgid")
            if not self._pkgid:
                raise RepoError(f"{self._name}: <package> without pkgid in filelists")

    def _got_text(self, key: str, text: str) -> None:
        self._files.append(text)

    def _flush(self) -> None:
        if self._pkgid is not None:
            self.done.append((self._pkgid, self._files))
            self._pkgid = None
            self._files = []


def _local(tag: str) -> str:
    """The local name of an expat tag (``uri name``, as namespace_separator=" " gives)."""
    return tag.rpartition(" ")[2]


_PACKAGE = f"{_COMMON_NS} package"
_VERSION = f"{_COMMON_NS} version"
_TIME = f"{_COMMON_NS} time"
_SIZE = f"{_COMMON_NS} size"
_LOCATION = f"{_COMMON_NS} location"
_ENTRY = f"{_RPM_NS} entry"
_PROVIDES = f"{_RPM_NS} provides"
_REQUIRES = f"{_RPM_NS} requires"
_FL_PACKAGE = f"{_FILELISTS_NS} package"
_FL_FILE = f"{_FILELISTS_NS} file"
# Text elements of a primary <package> that are kept, by the key they are stored under.
_PRIMARY_TEXT = {
    f"{_COMMON_NS} name": "name",
    f"{_COMMON_NS} arch": "arch",
    f"{_COMMON_NS} checksum": "checksum",
    f"{_COMMON_NS} summary": "summary",
    f"{_COMMON_NS} file": "file",
    f"{_RPM_NS} license": "license",
    f"{_RPM_NS} sourcerpm": "sourcerpm",
}
