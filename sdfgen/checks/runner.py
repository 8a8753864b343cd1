"""``sdfgen check``: load SDFs, run every check family, return findings.

Targets are SDF files or directories of them. Deps are resolved against all SDFs of the
targets' directories (checking one file still sees its siblings). With a repository
session the per-arch checks (globs against file lists, NEEDED coverage) run too; a
package missing from the repository is reported once and its repository-independent
checks still run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sdfgen.checks import deps, elf, paths, runtime, schema, splitter
from sdfgen.checks.base import CheckContext
from sdfgen.checks.findings import Finding, Severity
from sdfgen.errors import PackageNotFoundError, SdfgenError
from sdfgen.facts import ElfInfo, RpmPackage
from sdfgen.rpm.needed import capability_for
from sdfgen.rpm.session import PackageSource, Session
from sdfgen.sdf.model import Sdf, SdfError, load_sdf

CHECKS = (schema, deps, paths, elf, runtime, splitter)  # run order
SEVERITIES: dict[str, Severity] = {}
for _module in CHECKS:
    SEVERITIES.update(_module.IDS)


@dataclass(frozen=True)
class LoadedSdfs:
    """The SDFs to check, every SDF known for dep resolution, and files that failed."""

    targets: tuple[Sdf, ...]
    universe: dict[str, Sdf]
    failures: tuple[Finding, ...]


def load_targets(paths: Iterable[Path]) -> LoadedSdfs:
    """Load SDF files and directories; unparseable files become ``invalid-yaml`` findings.
    Raises :class:`SdfError` for a path that does not exist or holds no SDF."""
    target_files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
            if not found:
                raise SdfError(f"{path}: no *.yaml SDF files in this directory")
            target_files.extend(found)
        elif path.is_file():
            target_files.append(path)
        else:
            raise SdfError(f"{path}: no such file or directory")
    target_files = list(dict.fromkeys(p.resolve() for p in target_files))
    targets: list[Sdf] = []
    failures: list[Finding] = []
    loaded: dict[Path, Sdf] = {}
    for path in target_files:
        try:
            loaded[path] = load_sdf(path)
            targets.append(loaded[path])
        except SdfError as exc:
            failures.append(Finding(str(path), _line_of(str(exc)), SEVERITIES["invalid-yaml"],
                                    "invalid-yaml", _after_location(str(exc), path)))
    universe: dict[str, Sdf] = {}
    for directory in dict.fromkeys(p.parent for p in target_files):
        for sibling in sorted(directory.glob("*.yaml")):
            sibling = sibling.resolve()
            if sibling not in loaded:
                try:
                    loaded[sibling] = load_sdf(sibling)
                except SdfError:
                    continue  # only a reference here; reported when it is a target
            universe.setdefault(loaded[sibling].package, loaded[sibling])
    return LoadedSdfs(tuple(targets), universe, tuple(failures))


def run_checks(context: CheckContext) -> list[Finding]:
    """Every family's findings for ``context``, sorted by file and line."""
    findings: list[Finding] = []
    for module in CHECKS:
        findings.extend(module.run(context))
    return sorted(set(findings))


def check_paths(paths: Iterable[Path], arches: tuple[str, ...],
                packages: PackageSource | None = None) -> list[Finding]:
    """Load ``paths`` and check them; findings sorted by file and line."""
    loaded = load_targets(paths)
    context = CheckContext(loaded.targets, loaded.universe, arches, packages)
    return sorted(set(run_checks(context)) | set(loaded.failures))


class SessionPackages:
    """:class:`PackageSource` over a repository session, caching lookups."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._packages: dict[tuple[str, str], RpmPackage | None] = {}
        self._providers: dict[tuple[str, str], tuple[RpmPackage, ...]] = {}
        self._owners: dict[tuple[str, str], tuple[RpmPackage, ...]] = {}

    def package(self, arch: str, name: str) -> RpmPackage | None:
        """The newest ``name`` on ``arch``, read with ELF facts; None if absent."""
        key = (arch, name)
        if key not in self._packages:
            try:
                meta = self.session.repository(arch).latest(name)
            except PackageNotFoundError:
                self._packages[key] = None
            else:
                self._packages[key] = self.session.read(arch, meta)
        return self._packages[key]

    def providers(self, arch: str, soname: str, elf: ElfInfo) -> tuple[RpmPackage, ...]:
        """The packages whose Provides carry ``soname`` for ``elf``'s class, read."""
        capability = capability_for(soname, elf)
        key = (arch, capability)
        if key not in self._providers:
            metas = self.session.repository(arch).whatprovides(capability)
            self._providers[key] = tuple(self.session.read(arch, meta) for meta in metas)
        return self._providers[key]


    def owners(self, arch: str, path: str) -> tuple[RpmPackage, ...]:
        """The packages whose file lists hold ``path`` (read without ELF facts unless
        already read in full)."""
        key = (arch, path)
        if key not in self._owners:
            metas = self.session.repository(arch).whatprovides(path)
            self._owners[key] = tuple(self.session.read(arch, meta, elf=False)
                                      for meta in metas)
        return self._owners[key]


def _line_of(message: str) -> int:
    # SdfError messages start "FILE:LINE: ..." when the YAML parser knew the line.
    head = message.split(": ", 1)[0]
    tail = head.rsplit(":", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0


def _after_location(message: str, path: Path) -> str:
    rest = message.split(": ", 1)
    return rest[1] if len(rest) == 2 else message


__all__ = ["LoadedSdfs", "SdfgenError", "SessionPackages", "check_paths", "load_targets",
           "run_checks"]
