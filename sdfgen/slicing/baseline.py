"""The I/O side of ``sdfgen propose --update``: what the merge needs to know.

Reads the header of the existing SDF (:mod:`sdfgen.slicing.header`), fetches the file
list of the build it names from the repositories when they still hold it, and hands
:func:`sdfgen.slicing.update.update_sdf` the new build's directories, the needs of its
files (read only when a new file needs them) and the proposer's view of other packages'
slices.
"""

from __future__ import annotations

from pathlib import Path

from sdfgen.errors import SdfError
from sdfgen.facts import FileKind, PackageMeta
from sdfgen.repo.index import Repository
from sdfgen.slicing.header import parse_header
from sdfgen.slicing.proposal import Need, Proposal
from sdfgen.slicing.proposer import Proposer
from sdfgen.slicing.update import Baseline, UpdateInputs


def update_inputs(proposer: Proposer, proposal: Proposal, existing: Path) -> UpdateInputs:
    """Everything :func:`~sdfgen.slicing.update.update_sdf` needs for ``existing``."""
    try:
        text = existing.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SdfError(f"{existing}: cannot read: {exc}") from exc
    header = parse_header(text)
    session = proposer.session
    now = dict(proposal.nevras)
    files: dict[str, frozenset[str]] = {}
    for arch, nevra in header.nevras.items():
        if arch not in session.arches or now.get(arch) in (None, nevra):
            continue
        meta = find_build(session.repository(arch), proposal.package, nevra)
        if meta is not None:
            rpm = session.read(arch, meta, elf=False)
            files[arch] = frozenset(entry.path for entry in rpm.files)
    rpms = proposer.rpms(proposal.package)
    dirs = {arch: frozenset(f.path for f in rpm.files if f.kind is FileKind.DIR)
            for arch, rpm in rpms.items()}
    needs: dict[str, dict[str, tuple[Need, ...]]] = {}

    def needs_of(arch: str, path: str) -> tuple[Need, ...]:
        if arch not in needs:
            # Resolved once per arch, and only when a new file is placed.
            found: dict[str, list[Need]] = {}
            if arch in rpms:
                for need in proposer.needs(arch, rpms[arch]):
                    found.setdefault(need.needed_by, []).append(need)
            needs[arch] = {path: tuple(items) for path, items in found.items()}
        return needs[arch].get(path, ())

    return UpdateInputs(Baseline(header, files), dirs, needs_of, proposer.locate,
                        proposer.sdfs)


def find_build(repository: Repository, name: str, nevra: str) -> PackageMeta | None:
    """The build ``nevra`` of ``name`` in ``repository`` (any version), or None."""
    return next((meta for meta in repository.versions(name) if meta.nevra == nevra), None)
