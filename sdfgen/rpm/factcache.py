"""A persistent cache of package facts, addressed by the RPM's checksum.

Reading an RPM (decompressing its payload and parsing every ELF object with pyelftools)
is most of what ``propose`` and ``check`` cost, and its result never changes for a
given file: the facts of each package read are kept beside the RPM cache, in
``facts/<analysis key>/<checksum type>/<ab>/<checksum>.json``, and a later run loads
them instead of reading the RPM again (nor downloading it).

- Safe to read: plain JSON decoded into :mod:`sdfgen.facts` dataclasses, never pickle;
  a file that does not decode as expected is a miss (read the RPM again, rewrite it).
- Versioned: the analysis key hashes :data:`ANALYSIS_VERSION`, the source of every
  module whose code decides the facts and the versions of the libraries they use, so
  any change to the analysis reads packages afresh into a new directory.
- Bounded: facts of another analysis that no run has used for two weeks are removed
  when this one first writes.
- Shared safely: entries are written to the cache's flock'ed partial files and
  renamed into place, so concurrent runs never see half an entry (two runs that read
  one package both write the same bytes; the last rename wins).

A package read for soname resolution only (``elf_names``, see
:func:`sdfgen.rpm.reader.read_rpm`) is kept as ``<checksum>.lazy.json`` with the names
whose ELF facts it holds; it serves later lazy reads of those names, never a full read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Collection
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from sdfgen.facts import (
    Capability,
    ElfInfo,
    Evr,
    FileFlag,
    FileKind,
    PackageFile,
    PayloadProblem,
    RpmPackage,
    SymbolVersion,
)
from sdfgen.repo.cache import CacheDir, checked_checksum

# Bump when the facts change meaning in a way the module sources below do not show.
ANALYSIS_VERSION = 3  # 2: ElfInfo.paths (absolute paths of .rodata); 3: env's program
FORMAT = "sdfgen-facts"
# Modules whose code decides the facts, and the libraries they use.
_ANALYSIS_MODULES = ("facts.py", "rpm/reader.py", "rpm/payload.py", "rpm/cpio.py",
                     "rpm/header.py", "rpm/elf.py", "rpm/zstdframes.py",
                     "rpm/factcache.py")
_ANALYSIS_LIBRARIES = ("pyelftools", "rpmfile", "zstandard")
# The facts of another analysis (another sdfgen version) unused this long are removed.
STALE_ANALYSIS_SECONDS = 14 * 24 * 3600.0
# An entry larger than this is not ours (a 50,000-file package's facts are ~10 MB).
MAX_ENTRY_BYTES = 512 * 1024 * 1024


@cache
def analysis_key() -> str:
    """A short hash naming this analysis: version, module sources, library versions."""
    digest = hashlib.sha256(f"{FORMAT} {ANALYSIS_VERSION}\n".encode())
    package_dir = Path(__file__).resolve().parent.parent
    for name in _ANALYSIS_MODULES:
        digest.update(name.encode() + b"\0" + (package_dir / name).read_bytes())
    for library in _ANALYSIS_LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library}=={version}\n".encode())
    return digest.hexdigest()[:16]


class FactCache:
    """Package facts in the cache directory, by the RPM's checksum."""

    def __init__(self, cache: CacheDir) -> None:
        self.cache = cache
        self._pruned = False

    def entry_path(self, checksum_type: str, checksum: str, *, lazy: bool = False) -> Path:
        """Where the facts of the RPM with this checksum live (validated, confined)."""
        where = f"facts of {checksum_type}:{checksum[:80]}"
        algorithm, checksum = checked_checksum(checksum_type, checksum, where)
        name = f"{checksum}.lazy.json" if lazy else f"{checksum}.json"
        return self.cache.confine(
            self.cache.root / "facts" / analysis_key() / algorithm / checksum[:2] / name,
            where)

    def load(self, checksum_type: str, checksum: str
             ) -> RpmPackage | None:
        """The full facts of this RPM, or None when they are not (validly) cached."""
        found = self._load(self.entry_path(checksum_type, checksum))
        return None if found is None else found[1]

    def load_lazy(self, checksum_type: str, checksum: str
                  ) -> tuple[frozenset[str], RpmPackage] | None:
        """The facts of a lazy read of this RPM and the names they hold ELF facts of."""
        found = self._load(self.entry_path(checksum_type, checksum, lazy=True))
        if found is None or found[0] is None:
            return None
        return found[0], found[1]

    def store(self, checksum_type: str, checksum: str, package: RpmPackage,
              elf_names: Collection[str] | None = None) -> None:
        """Keep ``package``'s facts (of a lazy read when ``elf_names`` is given).

        A cache that cannot be written is no error: the facts were read all the same.
        """
        lazy = elf_names is not None
        document = {
            "format": FORMAT,
            "key": analysis_key(),
            "checksum": f"{checksum_type}:{checksum}",
            "elf_names": sorted(elf_names) if elf_names is not None else None,
            "package": encode(package),
        }
        # ASCII: names that are not UTF-8 (surrogate escapes) survive as \udcXX escapes.
        data = json.dumps(document, separators=(",", ":")).encode()
        try:
            dest = self.entry_path(checksum_type, checksum, lazy=lazy)
            with self.cache.partial_file(suffix=".json") as partial:
                partial.file.write(data)
                partial.commit(dest, str(dest))
            if not self._pruned:
                self._pruned = True
                self.prune()
        except OSError:
            pass

    def prune(self, max_age: float = STALE_ANALYSIS_SECONDS) -> list[str]:
        """Remove the facts of other analyses that no run has written to for ``max_age``
        seconds (an older or newer sdfgen); marks this analysis as in use. Returns the
        analysis keys removed."""
        root = self.cache.root / "facts"
        current = root / analysis_key()
        try:
            os.utime(current)
        except OSError:
            return []
        cutoff = time.time() - max_age
        removed = []
        for entry in os.scandir(root):
            if entry.name == current.name or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(entry.path)
                    removed.append(entry.name)
            except OSError:
                continue  # another run pruned it first, or it is not ours to remove
        return removed

    def _load(self, path: Path) -> tuple[frozenset[str] | None, RpmPackage] | None:
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_ENTRY_BYTES:
                    return None
                document = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        try:
            if document["format"] != FORMAT or document["key"] != analysis_key():
                return None
            names = document["elf_names"]
            package = decode(document["package"])
        except (KeyError, TypeError, ValueError, IndexError):
            return None  # not a document this version wrote: a miss, rewritten later
        return (None if names is None else frozenset(str(n) for n in names)), package


# -- encoding: compact rows, in field order -----------------------------------------------

def encode(package: RpmPackage) -> dict[str, Any]:
    """``package`` as plain JSON data."""
    return {
        "name": package.name, "evr": _evr(package.evr), "arch": package.arch,
        "license": package.license, "summary": package.summary,
        "sourcerpm": package.sourcerpm, "buildtime": package.buildtime,
        "vendor": package.vendor, "packager": package.packager, "url": package.url,
        "provides": [_capability(c) for c in package.provides],
        "requires": [_capability(c) for c in package.requires],
        "payload_compressor": package.payload_compressor,
        "digest_algo": package.digest_algo,
        "files": [_file(f) for f in package.files],
        "problems": [[p.entry, p.problem] for p in package.problems],
    }


def _evr(evr: Evr) -> list[Any]:
    return [evr.epoch, evr.version, evr.release]


def _capability(cap: Capability) -> list[Any]:
    return [cap.name, cap.flags, None if cap.evr is None else _evr(cap.evr)]


def _file(f: PackageFile) -> list[Any]:
    return [f.path, f.kind.value, f.mode, f.user, f.group, f.size, f.digest,
            sorted(flag.value for flag in f.flags), f.link_target,
            None if f.elf is None else _elf(f.elf), f.shebang, f.mtime]


def _elf(e: ElfInfo) -> list[Any]:
    return [e.elf_class, e.machine, e.elf_type, e.interpreter, e.soname, list(e.needed),
            list(e.rpath), list(e.runpath),
            [[v.library, v.version] for v in e.versions_needed],
            list(e.versions_defined), e.is_static, e.error, list(e.paths)]


# -- decoding: the same rows back, type-checked where a wrong type would spread ------------

def decode(data: dict[str, Any]) -> RpmPackage:
    """The :class:`RpmPackage` of :func:`encode`'s data; TypeError/ValueError if not."""
    flag_sets: dict[tuple[str, ...], frozenset[FileFlag]] = {}
    return RpmPackage(
        name=_str(data["name"]), evr=_decode_evr(data["evr"]), arch=_str(data["arch"]),
        license=_str(data["license"]), summary=_str(data["summary"]),
        sourcerpm=_str(data["sourcerpm"]), buildtime=_int(data["buildtime"]),
        vendor=_str(data["vendor"]), packager=_str(data["packager"]), url=_str(data["url"]),
        provides=tuple(_decode_capability(c) for c in data["provides"]),
        requires=tuple(_decode_capability(c) for c in data["requires"]),
        payload_compressor=_str(data["payload_compressor"]),
        digest_algo=_str(data["digest_algo"]),
        files=tuple(_decode_file(row, flag_sets) for row in data["files"]),
        problems=tuple(PayloadProblem(_str(e), _str(p)) for e, p in data["problems"]),
    )


def _decode_evr(row: list[Any]) -> Evr:
    epoch, version, release = row
    return Evr(_int(epoch), _str(version), _str(release))


def _decode_capability(row: list[Any]) -> Capability:
    name, flags, evr = row
    return Capability(_str(name), _opt_str(flags), None if evr is None else _decode_evr(evr))


def _decode_file(row: list[Any], flag_sets: dict[tuple[str, ...], frozenset[FileFlag]]
                 ) -> PackageFile:
    path, kind, mode, user, group, size, digest, flags, link, elf, shebang, mtime = row
    key = tuple(flags)
    flag_set = flag_sets.get(key)
    if flag_set is None:
        flag_set = flag_sets[key] = frozenset(FileFlag(v) for v in key)
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"bad path {path!r}")
    return PackageFile(
        path=path, kind=FileKind(kind), mode=_int(mode), user=_str(user), group=_str(group),
        size=_int(size), digest=_str(digest), flags=flag_set, link_target=_opt_str(link),
        elf=None if elf is None else _decode_elf(elf), shebang=_opt_str(shebang),
        mtime=_int(mtime))


def _decode_elf(row: list[Any]) -> ElfInfo:
    (elf_class, machine, elf_type, interpreter, soname, needed, rpath, runpath,
     versions_needed, versions_defined, is_static, error, paths) = row
    return ElfInfo(
        elf_class=_int(elf_class), machine=_str(machine), elf_type=_str(elf_type),
        interpreter=_opt_str(interpreter), soname=_opt_str(soname),
        needed=tuple(_str(n) for n in needed), rpath=tuple(_str(p) for p in rpath),
        runpath=tuple(_str(p) for p in runpath),
        versions_needed=tuple(SymbolVersion(_str(lib), _str(ver))
                              for lib, ver in versions_needed),
        versions_defined=tuple(_str(v) for v in versions_defined),
        is_static=bool(is_static), error=_opt_str(error),
        paths=tuple(_str(p) for p in paths))


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value
