"""One command's view of the package world: options -> per-arch repositories -> read RPMs.

Commands share the repository options (``--release``, ``--mirror``, ``--repo``,
``--repofile``, ``--arch``, ``--cache-dir``); a :class:`Session` opens the repositories
for each requested arch once and reads each RPM at most once per process.

Every command imports :class:`RepoOptions` at start-up (``sdfgen.cli.options``), so the
fetcher, the repository index and the RPM reader are imported only when a session opens.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sdfgen.errors import ConfigError
from sdfgen.repo.sources import DEFAULT_RELEASE, sources_by_arch

if TYPE_CHECKING:
    from sdfgen.facts import ElfInfo, PackageMeta, RpmPackage
    from sdfgen.repo.fetch import ProgressCallback
    from sdfgen.repo.index import Repository
    from sdfgen.rpm.factcache import FactCache

SUPPORTED_ARCHES = ("x86_64", "aarch64")


@dataclass(frozen=True)
class RepoOptions:
    """Where packages come from and for which architectures."""

    release: str = DEFAULT_RELEASE
    mirror: str | None = None
    repos: tuple[str, ...] = ()
    repofiles: tuple[Path, ...] = ()
    arches: tuple[str, ...] = SUPPORTED_ARCHES
    cache_dir: Path | None = None
    timeout: float = 30.0


class PackageSource(Protocol):
    """Read access to the packages of a repository, per arch."""

    def package(self, arch: str, name: str) -> RpmPackage | None:
        """The newest ``name`` on ``arch`` (read, with ELF facts), or None if absent."""

    def providers(self, arch: str, soname: str, elf: ElfInfo) -> tuple[RpmPackage, ...]:
        """The packages that provide ``soname`` for objects like ``elf`` on ``arch``."""


class Session:
    """Open repositories per arch plus an in-process cache of read RPMs."""

    def __init__(self, options: RepoOptions, progress: ProgressCallback | None = None) -> None:
        from sdfgen.repo.fetch import FetchOptions
        from sdfgen.repo.index import open_repositories

        for arch in options.arches:
            if arch not in SUPPORTED_ARCHES:
                raise ConfigError(
                    f"unsupported arch {arch!r}; use one of {', '.join(SUPPORTED_ARCHES)}"
                )
        self.options = options
        self.arches = tuple(dict.fromkeys(options.arches))
        fetch_options = FetchOptions(
            connect_timeout=min(10.0, options.timeout), read_timeout=options.timeout,
            progress=progress,
        )
        sources = sources_by_arch(self.arches, release=options.release, mirror=options.mirror,
                                  repos=options.repos, repofiles=options.repofiles)
        self.repositories: dict[str, Repository] = open_repositories(
            sources, self.arches, cache_dir=options.cache_dir, options=fetch_options
        )
        self._read: dict[tuple[str, bool], RpmPackage] = {}
        self._lazy: dict[str, tuple[frozenset[str], RpmPackage]] = {}
        self._facts: FactCache | None = None

    def repository(self, arch: str) -> Repository:
        """The repositories of ``arch`` as one package set."""
        return self.repositories[arch]

    def facts(self) -> FactCache:
        """The persistent cache of package facts (beside the RPMs)."""
        if self._facts is None:
            from sdfgen.rpm.factcache import FactCache

            self._facts = FactCache(self.repository(self.arches[0]).cache)
        return self._facts

    def read(self, arch: str, meta: PackageMeta, *, elf: bool = True,
             elf_names: Collection[str] | None = None) -> RpmPackage:
        """The facts of ``meta``'s RPM: from the facts cache, else downloaded and read.

        Read once per process and kept in the facts cache. ``elf_names`` asks only for
        the ELF facts of objects so named (see ``read_rpm``): enough to resolve those
        sonames, and much cheaper for a provider such as glibc; a full read, when there
        is one, serves it too.
        """
        full = self._read.get((meta.checksum, True))
        if full is not None:
            return full
        if elf and elf_names is not None:
            return self._read_lazy(arch, meta, frozenset(elf_names))
        facts = self.facts()
        if elf:
            package = facts.load(meta.checksum_type, meta.checksum)
            if package is None:
                package = self._read_rpm(arch, meta)
                facts.store(meta.checksum_type, meta.checksum, package)
            self._read[(meta.checksum, True)] = package
            return package
        key = (meta.checksum, False)
        if key not in self._read:
            # Full facts, when cached, answer a read without ELF facts too.
            self._read[key] = (facts.load(meta.checksum_type, meta.checksum)
                               or self._read_rpm(arch, meta, elf=False))
        return self._read[key]

    def _read_lazy(self, arch: str, meta: PackageMeta, names: frozenset[str]) -> RpmPackage:
        held = self._lazy.get(meta.checksum)
        if held is not None and names <= held[0]:
            return held[1]
        facts = self.facts()
        full = facts.load(meta.checksum_type, meta.checksum)
        if full is not None:
            self._read[(meta.checksum, True)] = full
            return full
        stored = facts.load_lazy(meta.checksum_type, meta.checksum)
        if stored is not None and names <= stored[0]:
            self._lazy[meta.checksum] = stored
            return stored[1]
        # Read once for every name asked so far, so the entry only grows.
        union = names | (stored[0] if stored else frozenset()) | (held[0] if held else
                                                                  frozenset())
        package = self._read_rpm(arch, meta, elf_names=union)
        facts.store(meta.checksum_type, meta.checksum, package, elf_names=union)
        self._lazy[meta.checksum] = (union, package)
        return package

    def _read_rpm(self, arch: str, meta: PackageMeta, *, elf: bool = True,
                  elf_names: Collection[str] | None = None) -> RpmPackage:
        from sdfgen.rpm.reader import read_rpm

        return read_rpm(self.repository(arch).download(meta), elf=elf, elf_names=elf_names)

    def close(self) -> None:
        """Close every repository index."""
        for repository in self.repositories.values():
            repository.close()


@contextmanager
def open_session(options: RepoOptions,
                 progress: ProgressCallback | None = None) -> Iterator[Session]:
    """A :class:`Session` that is closed on exit."""
    session = Session(options, progress)
    try:
        yield session
    finally:
        session.close()
