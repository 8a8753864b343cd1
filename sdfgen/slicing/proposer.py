"""The I/O side of ``sdfgen propose``: read packages, resolve needs, find providers' slices.

:class:`Proposer` holds an open :class:`~sdfgen.rpm.session.Session`, the SDFs of
``--sdf-dir`` and the classifier settings. For a package it reads the RPM on every arch,
resolves ELF needs (``sdfgen.rpm.needed``), script interpreters, symlink targets (in the
package or another one) and the shipped files its ELF objects name
(``sdfgen.rpm.opened``) to the providing package and file, adds an interpreter's need of
the library it starts with, and plans the slices; a need met by another package becomes
a dep on the slice of that package that holds the file: from its SDF in ``--sdf-dir``
when there is one, else from sdfgen's own slicing of that package (planned once and
cached; the proposal then notes the assumption).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

from sdfgen.errors import PackageNotFoundError
from sdfgen.facts import FileKind, PackageFile, RpmPackage
from sdfgen.roles.features import PackageContext
from sdfgen.roles.model import Decision, RoleModel, classify, default_model
from sdfgen.roles.rules import classify_by_rules
from sdfgen.rpm.needed import resolve_package
from sdfgen.rpm.opened import link_target, opened_paths
from sdfgen.rpm.session import Session
from sdfgen.sdf.model import Sdf, load_sdf_dir, slice_of_path
from sdfgen.slicing.plan import SlicePlan, include_opened, plan_slices
from sdfgen.slicing.proposal import (
    ArchFacts,
    Located,
    Need,
    Proposal,
    library_needs,
    propose,
    symlink_needs,
)

# Where programs live: a symlink there to a script is a program run by its shebang.
PROGRAM_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/libexec/")
# The PATH env searches for a script's program, as images set it (builder's default).
ENV_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _own_target(link: PackageFile, by_path: Mapping[str, PackageFile]) -> PackageFile | None:
    """The package's own file a symlink chain ends at (None: outside it, or a loop)."""
    entry = link
    for _ in range(40):  # the kernel's bound on symlinks in one lookup
        if entry.kind is not FileKind.SYMLINK or not entry.link_target:
            return entry
        found = by_path.get(link_target(entry.path, entry.link_target))
        if found is None:
            return None
        entry = found
    return None


class Proposer:
    """Proposes SDFs for packages of one session; caches plans of provider packages."""

    def __init__(self, session: Session, *, sdf_dir: Path | None = None,
                 use_model: bool = True, model: RoleModel | None = None) -> None:
        self.session = session
        self.sdf_dir = sdf_dir
        self.sdfs: Mapping[str, Sdf] = load_sdf_dir(sdf_dir) if sdf_dir is not None else {}
        self.use_model = use_model
        self.model = (model or default_model()) if use_model else None
        self._plans: dict[str, SlicePlan] = {}
        self.proposing: frozenset[str] = frozenset()  # names propose_names will read
        self._rpms: dict[tuple[str, str], RpmPackage | None] = {}
        self._owners: dict[tuple[str, str], tuple[RpmPackage, ...]] = {}

    # -- classification -----------------------------------------------------------------

    def decide(self, path: str, package: str, file: PackageFile,
               context: PackageContext | None = None) -> Decision:
        """The role decision for a file under this proposer's settings."""
        if self.model is not None:
            return classify(path, package, file, self.model, context=context)
        ruled = classify_by_rules(path, package, file=file)
        return Decision(ruled.role, "rules", ruled.reason)

    def _confidence(self, path: str, package: str, file: PackageFile) -> bool:
        return classify_by_rules(path, package, file=file).confident

    # -- reading ------------------------------------------------------------------------

    def rpm(self, arch: str, name: str) -> RpmPackage | None:
        """``name`` on ``arch`` (None when that arch's repositories lack it)."""
        key = (arch, name)
        if key not in self._rpms:
            try:
                meta = self.session.repository(arch).latest(name)
            except PackageNotFoundError:
                self._rpms[key] = None
            else:
                self._rpms[key] = self.session.read(arch, meta)
        return self._rpms[key]

    def rpms(self, name: str) -> dict[str, RpmPackage]:
        """``name`` per arch where it exists; raises PackageNotFoundError where it does not
        exist on any requested arch."""
        found = {arch: rpm for arch in self.session.arches
                 if (rpm := self.rpm(arch, name)) is not None}
        if not found:
            # Raise the repository's own error: it names the arches and suggests names.
            self.session.repository(self.session.arches[0]).latest(name)
        return found

    def plan(self, name: str) -> SlicePlan:
        """sdfgen's slicing of ``name`` on every arch where it exists (cached)."""
        if name not in self._plans:
            rpms = self.rpms(name)
            plan = plan_slices(
                name, {arch: rpm.files for arch, rpm in rpms.items()}, self.decide,
                None if self.use_model else self._confidence)
            # Own files its objects open by name: no repository lookup needed for those.
            opened = [(arch, item.needed_by, item.path) for arch, rpm in rpms.items()
                      for item in opened_paths(rpm, lambda path: ())]
            self._plans[name] = include_opened(plan, opened)
        return self._plans[name]

    # -- needs and their slices ------------------------------------------------------------

    def needs(self, arch: str, rpm: RpmPackage) -> tuple[Need, ...]:
        """ELF, script, symlink and opened-path needs of ``rpm``'s files on ``arch``."""
        needs = [Need(row.needed_by, row.soname, "interpreter" if row.interpreter else "NEEDED",
                      row.package, row.path)
                 for row in resolve_package(self.session, arch, rpm, self._lazy_provider)]
        needs.extend(self._script_needs(arch, rpm))
        needs.extend(symlink_needs(rpm))
        needs.extend(self._foreign_link_needs(arch, rpm))
        for opened in opened_paths(rpm, lambda path: self.owners(arch, path)):
            first = opened.files[0]
            needs.append(Need(opened.needed_by, opened.path, "opens", first.package,
                              first.path))
            # The files a symlink leads to: an SDF of the link's package need not say so.
            for hop in opened.files[1:]:
                needs.append(Need(opened.needed_by, f"{opened.path} -> {hop.path}", "opens",
                                  hop.package, hop.path))
        return tuple(needs)

    def owners(self, arch: str, path: str) -> tuple[RpmPackage, ...]:
        """The packages of ``arch``'s repositories whose file lists hold ``path`` (read
        without ELF facts unless already read in full); cached."""
        key = (arch, path)
        if key not in self._owners:
            repository = self.session.repository(arch)
            self._owners[key] = tuple(self.session.read(arch, meta, elf=False)
                                      for meta in repository.whatprovides(path))
        return self._owners[key]

    def _foreign_link_needs(self, arch: str, rpm: RpmPackage) -> list[Need]:
        """A symlink into another package is a need of the slice holding the file it names
        (a directory target is made by whichever slice ships the link)."""
        own = {f.path for f in rpm.files}
        needs = []
        for entry in rpm.files:
            if entry.kind is not FileKind.SYMLINK or not entry.link_target:
                continue
            target = link_target(entry.path, entry.link_target)
            if target in own:
                continue
            for owner in self.owners(arch, target):
                found = next((f for f in owner.files if f.path == target), None)
                if found is not None and found.kind is not FileKind.DIR:
                    needs.append(Need(entry.path, entry.link_target, "symlink", owner.name,
                                      target))
                    break
        return needs

    def _lazy_provider(self, name: str) -> bool:
        """Whether a provider may be read for its sonames only: not when its slices come
        from sdfgen's own plan (which reads it in full) or it is proposed itself."""
        return name in self.sdfs and name not in self.proposing

    def _script_needs(self, arch: str, rpm: RpmPackage) -> list[Need]:
        """What runs each script: its interpreter, and through ``env`` the program env
        finds in PATH too. A program in a bin directory that is a symlink to a script
        (pdb3.11 -> ../lib/python3.11/pdb.py) needs what runs the script."""
        own = {f.path for f in rpm.files if f.kind is not FileKind.DIR}
        by_path = {f.path: f for f in rpm.files}
        needs = []
        for entry in rpm.files:
            script: PackageFile | None = entry
            if entry.kind is FileKind.SYMLINK and entry.path.startswith(PROGRAM_DIRS):
                script = _own_target(entry, by_path)
            if (script is None or not script.shebang or script.kind is not FileKind.FILE
                    or not script.mode & 0o111):
                continue
            interpreter, _, program = script.shebang.partition(" ")
            needs.append(self._provider_need(arch, rpm.name, own, entry.path, interpreter))
            if posixpath.basename(interpreter) == "env" and program:
                needs.append(self._env_need(arch, rpm.name, own, entry.path, interpreter,
                                            program))
        return needs

    def _env_need(self, arch: str, package: str, own: set[str], needed_by: str, env: str,
                  program: str) -> Need:
        """The program ``env`` runs: an absolute path as it is, a name looked up in the
        PATH images set (the first directory with a provider wins, as env's search)."""
        what = f"{env} {program}"
        paths = [program] if program.startswith("/") else [
            f"{directory}/{program}" for directory in ENV_PATH]
        for path in paths:
            found = self._provider_need(arch, package, own, needed_by, path)
            if found.package is not None:
                return Need(needed_by, what, "script", found.package, found.path)
        return Need(needed_by, what, "script", None, None)

    def _provider_need(self, arch: str, package: str, own: set[str], needed_by: str,
                       path: str) -> Need:
        # usrmerge: /bin/sh may be shipped as /usr/bin/sh and the other way round.
        candidates = [path]
        if path.startswith("/usr/"):
            candidates.append(path[4:])
        else:
            candidates.append("/usr" + path)
        for candidate in candidates:
            if candidate in own:
                return Need(needed_by, path, "script", package, candidate)
        repository = self.session.repository(arch)
        for candidate in candidates:
            providers = repository.whatprovides(candidate)
            if providers:
                return Need(needed_by, path, "script", providers[0].name, candidate)
        return Need(needed_by, path, "script", None, None)

    def locate(self, package: str, path: str, arch: str) -> Located:
        """The slice of ``package`` holding ``path`` on ``arch``."""
        sdf = self.sdfs.get(package)
        if sdf is not None:
            name = slice_of_path(sdf, path, arch)
            if name is None:
                return Located(None, f"{package}'s SDF in --sdf-dir has no slice with {path} "
                                     f"on {arch}")
            return Located(f"{package}_{name}")
        try:
            name = self.plan(package).slice_of(arch, path)
        except PackageNotFoundError:
            return Located(None, f"{package} is not in the repositories")
        if name is None:
            return Located(None, f"sdfgen leaves {path} of {package} out of every slice")
        return Located(f"{package}_{name}",
                       f"no SDF for {package} in --sdf-dir; assumed {package}_{name}")

    # -- proposing ----------------------------------------------------------------------

    def propose(self, name: str) -> Proposal:
        """The proposal for package ``name`` on every arch where it exists."""
        rpms = self.rpms(name)
        plan = self.plan(name)
        facts = [ArchFacts(arch, rpm, (*self.needs(arch, rpm),
                                       *library_needs(plan, arch)))
                 for arch, rpm in rpms.items()]
        proposal = propose(plan, facts, self.locate, model=self.use_model)
        missing = [arch for arch in self.session.arches if arch not in rpms]
        if missing:
            note = f"{name} is not in the {', '.join(missing)} repositories"
            proposal = _with_note(proposal, note)
        return proposal

    def all_names(self) -> list[str]:
        """Every package name of every arch's repositories, sorted."""
        names: set[str] = set()
        for arch in self.session.arches:
            names.update(self.session.repository(arch).package_names())
        return sorted(names)


def _with_note(proposal: Proposal, note: str) -> Proposal:
    from dataclasses import replace

    return replace(proposal, notes=(*proposal.notes, note))


def propose_names(proposer: Proposer, names: Sequence[str]) -> list[Proposal]:
    """Proposals for ``names`` in order (one session, shared caches)."""
    proposer.proposing = frozenset(names)
    return [proposer.propose(name) for name in names]
