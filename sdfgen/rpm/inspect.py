"""``sdfgen inspect``: a package's files, ELF facts and NEEDED providers, per arch.

Builds :class:`ArchReport` data (presentation lives in ``sdfgen.cli.render``) and its stable
JSON form (schema documented in README.md, "inspect --json").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdfgen.errors import PackageNotFoundError
from sdfgen.facts import PackageFile, PackageMeta, PayloadProblem
from sdfgen.repo.fetch import ProgressCallback
from sdfgen.rpm.needed import NeededRow, resolve_package
from sdfgen.rpm.session import RepoOptions, Session, open_session

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ArchReport:
    """What one arch's repositories hold for the package, read from its RPM."""

    arch: str
    name: str
    nevra: str
    evr: str
    rpm_arch: str
    repo_id: str
    license: str
    summary: str
    checksum: str
    payload_compressor: str
    files: tuple[PackageFile, ...]
    needed: tuple[NeededRow, ...]
    problems: tuple[PayloadProblem, ...]


def find_package(session: Session, arch: str, name: str) -> PackageMeta:
    """The newest package called ``name``, else the one providing capability/path ``name``."""
    repository = session.repository(arch)
    try:
        return repository.latest(name)
    except PackageNotFoundError:
        if "(" in name or "/" in name or ".so" in name:
            providers = repository.whatprovides(name)
            if providers:
                return providers[0]
        raise


def inspect_package(name: str, options: RepoOptions,
                    progress: ProgressCallback | None = None) -> list[ArchReport]:
    """One :class:`ArchReport` per requested arch, in the order the arches were given."""
    with open_session(options, progress) as session:
        return [inspect_in(session, arch, name) for arch in session.arches]


def inspect_in(session: Session, arch: str, name: str) -> ArchReport:
    """The report of ``name`` on ``arch`` within an open session."""
    meta = find_package(session, arch, name)
    rpm = session.read(arch, meta)
    return ArchReport(
        arch=arch, name=rpm.name, nevra=rpm.nevra, evr=str(rpm.evr), rpm_arch=rpm.arch,
        repo_id=meta.repo_id, license=rpm.license, summary=rpm.summary,
        checksum=f"{meta.checksum_type}:{meta.checksum}",
        payload_compressor=rpm.payload_compressor,
        files=rpm.files, needed=resolve_package(session, arch, rpm), problems=rpm.problems,
    )


def _file_json(entry: PackageFile) -> dict[str, Any]:
    elf: dict[str, Any] | None = None
    if entry.elf is not None:
        info = entry.elf
        elf = {"error": info.error} if info.error else {
            "class": info.elf_class,
            "machine": info.machine,
            "type": info.elf_type,
            "interpreter": info.interpreter,
            "soname": info.soname,
            "needed": list(info.needed),
            "rpath": list(info.rpath),
            "runpath": list(info.runpath),
            "static": info.is_static,
            "versions_needed": [
                {"library": v.library, "version": v.version} for v in info.versions_needed
            ],
            "versions_defined": list(info.versions_defined),
            "paths": list(info.paths),
        }
    return {
        "path": entry.path,
        "kind": entry.kind.value,
        "mode": f"{entry.mode:04o}",
        "user": entry.user,
        "group": entry.group,
        "size": entry.size,
        "digest": entry.digest,
        "flags": sorted(flag.value for flag in entry.flags),
        "link_target": entry.link_target,
        "shebang": entry.shebang,
        "elf": elf,
    }


def report_to_json(reports: list[ArchReport]) -> dict[str, Any]:
    """The stable ``--json`` document for a list of per-arch reports."""
    return {
        "schema": "sdfgen-inspect",
        "schema_version": JSON_SCHEMA_VERSION,
        "arches": {
            report.arch: {
                "name": report.name,
                "nevra": report.nevra,
                "evr": report.evr,
                "arch": report.rpm_arch,
                "repo": report.repo_id,
                "license": report.license,
                "summary": report.summary,
                "checksum": report.checksum,
                "payload_compressor": report.payload_compressor,
                "files": [_file_json(entry) for entry in report.files],
                "needed": [
                    {"file": row.needed_by, "soname": row.soname, "package": row.package,
                     "path": row.path, "reason": row.reason}
                    for row in report.needed
                ],
                "problems": [
                    {"entry": problem.entry, "problem": problem.problem}
                    for problem in report.problems
                ],
            }
            for report in reports
        },
    }

