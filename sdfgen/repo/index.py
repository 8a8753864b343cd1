"""Package lookups over the enabled repositories of one architecture.

Each repository's primary.xml is parsed once into an sqlite index in the cache, named
after the primary checksum from repomd.xml: a warm start reads repomd.xml and opens the
index (no primary download, no parse); a changed repository has a new checksum and so
gets a new index. filelists.xml is indexed the same way, but only when a file-path
lookup needs it.
"""

from __future__ import annotations

import difflib
import marshal
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from sdfgen.errors import PackageNotFoundError, RepoError
from sdfgen.facts import Evr, PackageMeta
from sdfgen.repo.cache import CacheDir
from sdfgen.repo.evr import evr_key
from sdfgen.repo.fetch import Fetcher, FetchOptions, is_remote, join_url
from sdfgen.repo.metadata import PrimaryRecord, iter_filelists, iter_primary, to_package_meta
from sdfgen.repo.repomd import RepoMd, RepoMdRecord, parse_repomd
from sdfgen.repo.sources import RepoSource

# Bump when the index layout changes so old cache files are not read. Records are stored
# with marshal (6x faster than json here); it only ever reads files this code wrote.
# v2: records hold validated checksums (hashlib's type names) and plain file names.
_INDEX_FORMAT = f"v2m{marshal.version}"
_BATCH = 20_000
# createrepo puts exactly the files matching this into primary.xml (FILES_REGEX in
# createrepo_c), so for such paths primary is complete and filelists is not needed.
_PRIMARY_FILES = re.compile(r"^(.*bin/.*|/etc/.*|/usr/lib/sendmail)$")

_Builder = Callable[[sqlite3.Connection], None]
_T = TypeVar("_T")


class _RepoIndex:
    """One repository: its chosen base URL, repomd and the sqlite index of its primary."""

    def __init__(self, source: RepoSource, fetcher: Fetcher) -> None:
        self.source = source
        self._fetcher = fetcher
        self.base_url, self.repomd_url, self.repomd = self._read_repomd()
        primary = self.repomd.record("primary")
        if primary is None:
            raise RepoError(f"{self.repomd_url}: repomd.xml has no primary metadata")
        self._db = _open_index(self._index_path("primary", primary), self._build_primary(primary),
                               fetcher.cache)
        self._filelists: sqlite3.Connection | None = None

    def _read_repomd(self) -> tuple[str, str, RepoMd]:
        errors = []
        for base_url in self.source.urls:
            url = join_url(base_url, "repodata/repomd.xml")
            try:
                return base_url, url, parse_repomd(self._fetcher.read_bytes(url), url)
            except RepoError as exc:
                errors.append(str(exc))
        raise RepoError("; ".join(errors))

    def _index_path(self, kind: str, record: RepoMdRecord) -> Path:
        return self._fetcher.cache.index_path(kind, _INDEX_FORMAT, record.checksum_type,
                                              record.checksum, self.repomd_url)

    def base_for(self, location_base: str | None, where: str) -> str:
        """The base URL of a location: its ``xml:base`` or the repository's.

        A remote repository may not point at local files (``xml:base="/etc/"``):
        RepoError naming ``where``.
        """
        if location_base is None:
            return self.base_url
        if is_remote(self.base_url) and not is_remote(location_base):
            raise RepoError(f"{where}: xml:base {location_base!r} is not an http(s) URL; "
                            "a remote repository may not point at local files")
        return location_base

    def _fetch_metadata(self, record: RepoMdRecord) -> tuple[str, Path]:
        base = self.base_for(record.location_base,
                             f"{self.repomd_url} <data type={record.data_type!r}>")
        url = join_url(base, record.location)
        dest = self._fetcher.metadata_path(record.checksum_type, record.checksum, url)
        return url, self._fetcher.fetch_verified(url, dest, record.checksum_type,
                                                 record.checksum, record.size)

    def _build_primary(self, record: RepoMdRecord) -> _Builder:
        def build(conn: sqlite3.Connection) -> None:
            url, path = self._fetch_metadata(record)
            conn.executescript("""
                CREATE TABLE packages(id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                      arch TEXT NOT NULL, pkgid TEXT NOT NULL, record BLOB);
                CREATE TABLE provides(name TEXT NOT NULL, pkg INTEGER NOT NULL);
                CREATE TABLE files(path TEXT NOT NULL, pkg INTEGER NOT NULL);
            """)
            packages: list[tuple[int, str, str, str, bytes]] = []
            provides: list[tuple[str, int]] = []
            files: list[tuple[str, int]] = []
            for number, rec in enumerate(_labelled(iter_primary(path, label=url), path)):
                record_blob = marshal.dumps(tuple(rec))
                packages.append((number, rec.name, rec.arch, rec.checksum, record_blob))
                provides.extend((cap, number) for cap in {entry[0] for entry in rec.provides})
                files.extend((file, number) for file in rec.files)
                if len(packages) >= _BATCH:
                    _flush(conn, packages, provides, files)
            _flush(conn, packages, provides, files)
            # Indexes after the bulk insert: building them once is far cheaper.
            conn.executescript("""
                CREATE INDEX packages_name ON packages(name);
                CREATE INDEX packages_pkgid ON packages(pkgid);
                CREATE INDEX provides_name ON provides(name);
                CREATE INDEX files_path ON files(path);
            """)
        return build

    def _build_filelists(self, record: RepoMdRecord) -> _Builder:
        def build(conn: sqlite3.Connection) -> None:
            url, path = self._fetch_metadata(record)
            conn.execute("CREATE TABLE files(path TEXT NOT NULL, pkgid TEXT NOT NULL)")
            rows: list[tuple[str, str]] = []
            for pkgid, paths in _labelled(iter_filelists(path, label=url), path):
                rows.extend((file, pkgid) for file in paths)
                if len(rows) >= _BATCH * 10:
                    conn.executemany("INSERT INTO files VALUES (?, ?)", rows)
                    rows.clear()
            conn.executemany("INSERT INTO files VALUES (?, ?)", rows)
            conn.execute("CREATE INDEX files_path ON files(path)")
        return build

    def records(self, sql: str, args: Sequence[object]) -> list[PrimaryRecord]:
        """Primary records selected by ``sql`` (which must select the record column)."""
        return [PrimaryRecord(*marshal.loads(row[0])) for row in self._db.execute(sql, args)]

    def by_name(self, name: str, arches: tuple[str, str]) -> list[PrimaryRecord]:
        return self.records(
            "SELECT record FROM packages WHERE name = ? AND arch IN (?, ?)", (name, *arches)
        )

    def providers(self, capability: str, arches: tuple[str, str]) -> list[PrimaryRecord]:
        return self.records(
            "SELECT p.record FROM provides v JOIN packages p ON p.id = v.pkg "
            "WHERE v.name = ? AND p.arch IN (?, ?)", (capability, *arches)
        )

    def file_owners(self, path: str, arches: tuple[str, str]) -> list[PrimaryRecord]:
        found = self.records(
            "SELECT p.record FROM files f JOIN packages p ON p.id = f.pkg "
            "WHERE f.path = ? AND p.arch IN (?, ?)", (path, *arches)
        )
        if found or _PRIMARY_FILES.match(path):
            return found
        filelists = self._filelists_db()
        if filelists is None:
            return []
        pkgids = [row[0] for row in filelists.execute(
            "SELECT DISTINCT pkgid FROM files WHERE path = ?", (path,))]
        if not pkgids:
            return []
        marks = ",".join("?" * len(pkgids))
        return self.records(
            f"SELECT record FROM packages WHERE pkgid IN ({marks}) AND arch IN (?, ?)",
            (*pkgids, *arches),
        )

    def names(self, arches: tuple[str, ...] | None = None) -> list[str]:
        if arches is None:
            rows = self._db.execute("SELECT DISTINCT name FROM packages")
        else:
            marks = ",".join("?" * len(arches))
            rows = self._db.execute(
                f"SELECT DISTINCT name FROM packages WHERE arch IN ({marks})", arches)
        return [row[0] for row in rows]

    def arches_of(self, name: str) -> list[str]:
        return [row[0] for row in self._db.execute(
            "SELECT DISTINCT arch FROM packages WHERE name = ?", (name,))]

    def _filelists_db(self) -> sqlite3.Connection | None:
        if self._filelists is None:
            record = self.repomd.record("filelists")
            if record is None:
                return None
            self._filelists = _open_index(self._index_path("filelists", record),
                                          self._build_filelists(record), self._fetcher.cache)
        return self._filelists

    def close(self) -> None:
        self._db.close()
        if self._filelists is not None:
            self._filelists.close()


class Repository:
    """The enabled repositories for one architecture, queried as one package set.

    Packages of ``arch`` and ``noarch`` are considered; ``src`` and other architectures
    never are. Raises RepoError (naming the URL) when a repository cannot be read.
    """

    def __init__(self, sources: Sequence[RepoSource], arch: str, *,
                 cache_dir: str | Path | None = None, options: FetchOptions | None = None,
                 fetcher: Fetcher | None = None) -> None:
        if not sources:
            raise RepoError(f"no repositories given for {arch}")
        self.arch = arch
        self._fetcher = fetcher or Fetcher(options, cache_dir)
        self._arches = (arch, "noarch")
        self._repos: list[_RepoIndex] = []
        # Answers kept for the session (the metadata does not change under it): a
        # provider such as glibc is asked for again by every package that needs it.
        self._latest: dict[str, PackageMeta] = {}
        self._providers: dict[str, tuple[PackageMeta, ...]] = {}
        try:
            for source in sources:
                self._repos.append(_RepoIndex(source, self._fetcher))
        except BaseException:
            self.close()
            raise

    @property
    def repo_count(self) -> int:
        """How many repositories are enabled."""
        return len(self._repos)

    @property
    def sources(self) -> tuple[RepoSource, ...]:
        """The repositories, in priority order for equal versions."""
        return tuple(repo.source for repo in self._repos)

    def latest(self, name: str) -> PackageMeta:
        """The newest ``name`` (by rpm's EVR order) across all repositories.

        Raises PackageNotFoundError with close-name suggestions when there is none.
        """
        found = self._latest.get(name)
        if found is not None:
            return found
        candidates = [(repo, rec) for repo in self._repos for rec in repo.by_name(name,
                                                                               self._arches)]
        if not candidates:
            raise self._not_found(name)
        repo, rec = max(candidates, key=lambda pair: evr_key(_evr(pair[1])))
        self._latest[name] = self._meta(repo, rec)
        return self._latest[name]

    def whatprovides(self, capability: str) -> list[PackageMeta]:
        """The newest version of each package providing ``capability``, sorted by name.

        ``capability`` is a Provides name (``libc.so.6()(64bit)``) or an absolute file
        path, looked up in primary's file lists, then (if needed) filelists.xml.
        An empty list means no provider.
        """
        known = self._providers.get(capability)
        if known is not None:
            return list(known)
        newest: dict[str, tuple[_RepoIndex, PrimaryRecord]] = {}
        for repo in self._repos:
            found = repo.providers(capability, self._arches)
            if capability.startswith("/"):
                found += repo.file_owners(capability, self._arches)
            for rec in found:
                best = newest.get(rec.name)
                if best is None or evr_key(_evr(rec)) > evr_key(_evr(best[1])):
                    newest[rec.name] = (repo, rec)
        metas = [self._meta(repo, rec) for _name, (repo, rec) in sorted(newest.items())]
        self._providers[capability] = tuple(metas)
        return metas

    def versions(self, name: str) -> list[PackageMeta]:
        """Every build of ``name`` of this architecture or noarch in every repository
        (not only the newest), in priority order; ``propose --update`` finds the build
        an SDF was written for among them."""
        return [self._meta(repo, rec) for repo in self._repos
                for rec in repo.by_name(name, self._arches)]

    def package_names(self) -> list[str]:
        """Sorted names of all packages of this architecture or noarch."""
        return sorted({name for repo in self._repos for name in repo.names(self._arches)})

    def packages(self) -> Iterator[PackageMeta]:
        """The newest package of each name, in name order."""
        for name in self.package_names():
            yield self.latest(name)

    @property
    def cache(self) -> CacheDir:
        """The cache directory this repository downloads into."""
        return self._fetcher.cache

    def download(self, pkg: PackageMeta) -> Path:
        """The RPM file of ``pkg`` in the cache, downloaded and checksum-verified if needed.

        Raises ChecksumError when the file does not match the metadata (nothing kept).
        """
        url = join_url(pkg.base_url, pkg.location)
        dest = self._fetcher.package_path(pkg.checksum_type, pkg.checksum, url)
        return self._fetcher.fetch_verified(url, dest, pkg.checksum_type, pkg.checksum,
                                            pkg.size or None)

    def close(self) -> None:
        """Close the index files."""
        for repo in self._repos:
            repo.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _meta(self, repo: _RepoIndex, rec: PrimaryRecord) -> PackageMeta:
        base = repo.base_for(rec.location_base, f"{repo.base_url}: package {rec.name!r}")
        return to_package_meta(rec._replace(location_base=base), repo.base_url,
                               repo.source.repo_id)

    def _not_found(self, name: str) -> PackageNotFoundError:
        count = len(self._repos)
        where = f"in {count} repositor{'y' if count == 1 else 'ies'} for {self.arch}"
        other_arches = sorted({a for repo in self._repos for a in repo.arches_of(name)})
        if other_arches:
            return PackageNotFoundError(
                f"no package {name!r} {where}; it exists only as {', '.join(other_arches)}"
            )
        suggestions = tuple(difflib.get_close_matches(name, self.package_names(), n=3,
                                                      cutoff=0.6))
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        return PackageNotFoundError(f"no package {name!r} {where}{hint}", suggestions)


def open_repositories(sources: Mapping[str, Sequence[RepoSource]],
                      arches: Iterable[str] | None = None, *,
                      cache_dir: str | Path | None = None,
                      options: FetchOptions | None = None) -> dict[str, Repository]:
    """A Repository per architecture (all of ``sources`` unless ``arches`` is given)."""
    fetcher = Fetcher(options, cache_dir)
    opened: dict[str, Repository] = {}
    try:
        for arch in (list(arches) if arches is not None else list(sources)):
            if arch not in sources:
                raise RepoError(f"no repositories configured for {arch}")
            opened[arch] = Repository(sources[arch], arch, fetcher=fetcher)
    except BaseException:
        for repository in opened.values():
            repository.close()
        raise
    return opened


def _open_index(path: Path, build: _Builder, cache: CacheDir) -> sqlite3.Connection:
    """Open the index at ``path``, building it first (atomically) if it is missing or bad.

    It is built in a partial file of the cache, so a killed build leaves nothing that
    the next run's sweep does not remove.
    """
    if path.is_file():
        conn = _connect_ro(path)
        if conn is not None:
            return conn
    with cache.partial_file(suffix=".sqlite") as partial:
        conn = sqlite3.connect(partial.path)
        try:
            # The temp file is discarded on any failure, so durability settings can be off.
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
            build(conn)
            conn.execute("CREATE TABLE complete(format TEXT)")
            conn.execute("INSERT INTO complete VALUES (?)", (_INDEX_FORMAT,))
            conn.commit()
        finally:
            conn.close()
        partial.commit(path, str(path))
    opened = _connect_ro(path)
    if opened is None:
        raise RepoError(f"{path}: cannot open the index just written")
    return opened


def _connect_ro(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to a complete index, or None if it is unusable."""
    try:
        # immutable: the file is never written after os.replace, so skip locking.
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True,
                               check_same_thread=False)
    except sqlite3.DatabaseError:
        return None
    try:
        row = conn.execute("SELECT format FROM complete").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None or row[0] != _INDEX_FORMAT:
        conn.close()
        return None
    return conn


def _flush(conn: sqlite3.Connection, packages: list[tuple[int, str, str, str, bytes]],
           provides: list[tuple[str, int]], files: list[tuple[str, int]]) -> None:
    conn.executemany("INSERT INTO packages VALUES (?, ?, ?, ?, ?)", packages)
    conn.executemany("INSERT INTO provides VALUES (?, ?)", provides)
    conn.executemany("INSERT INTO files VALUES (?, ?)", files)
    packages.clear()
    provides.clear()
    files.clear()


def _labelled(records: Iterator[_T], path: Path) -> Iterator[_T]:
    """Pass records through; a corrupt file is removed from the cache before re-raising."""
    try:
        yield from records
    except RepoError:
        path.unlink(missing_ok=True)
        raise


def _evr(rec: PrimaryRecord) -> Evr:
    return Evr(rec.epoch, rec.version, rec.release)
