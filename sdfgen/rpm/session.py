"""One command's view of the package world: options -> per-arch repositories -> read RPMs.

Commands share the repository options (``--release``, ``--mirror``, ``--repo``,
``--repofile``, ``--arch``, ``--cache-dir``); a :class:`Session` opens the repositories
for each requested arch once and reads each RPM at most once per process.

Every command imports :class:`RepoOptions` at start-up (``sdfgen.cli.options``), so the
fetcher, the repository index and the RPM reader are imported only when a session opens.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def repository(self, arch: str) -> Repository:
        """The repositories of ``arch`` as one package set."""
        return self.repositories[arch]

    def read(self, arch: str, meta: PackageMeta, *, elf: bool = True) -> RpmPackage:
        """The RPM of ``meta`` downloaded (verified, cached) and read once per process."""
        from sdfgen.rpm.reader import read_rpm

        key = (meta.checksum, elf)
        if key not in self._read and (meta.checksum, True) in self._read:
            return self._read[(meta.checksum, True)]
        if key not in self._read:
            self._read[key] = read_rpm(self.repository(arch).download(meta), elf=elf)
        return self._read[key]

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
