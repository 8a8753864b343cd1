"""The ``propose`` command, added to the ``sdfgen`` app by :func:`register`.

Thin: parse options, run :class:`sdfgen.slicing.proposer.Proposer`, emit or merge, write, print.
New SDFs go to ``-o`` (``-`` stdout, a FILE, or a DIR getting ``{package}.yaml``; default
the ``--sdf-dir`` when given, else stdout). When ``--sdf-dir`` already has the package's
SDF, ``--update`` is the default: the proposal is merged into it (see
:mod:`sdfgen.slicing.update`) and a unified diff is printed; the merged SDF must pass
``sdfgen check`` against the same repositories (run in-process), else nothing is written,
each finding is printed and the exit code is 1. ``--check`` writes nothing and exits 1
when a file would change (a stale header included). Notes (assumed slices of packages
without an SDF, vanished patterns, what the merge did) go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sdfgen.cli.options import (
    ArchOpt,
    CacheOpt,
    MirrorOpt,
    ReleaseOpt,
    RepofileOpt,
    RepoOpt,
    TimeoutOpt,
    repo_options,
)
from sdfgen.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from sdfgen.sdf.model import Sdf
    from sdfgen.slicing.proposal import Proposal
    from sdfgen.slicing.proposer import Proposer


def register(app: typer.Typer) -> None:
    """Add ``propose`` to ``app``."""
    app.command()(propose)


def propose(
    packages: Annotated[list[str] | None, typer.Argument(
        help="Package names (or use --all).")] = None,
    all_packages: Annotated[bool, typer.Option(
        "--all", help="Every package of the repositories (one file each into -o DIR).")] = False,
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    arch: ArchOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    sdf_dir: Annotated[Path | None, typer.Option(
        "--sdf-dir", help="Existing SDFs: deps point at their slices; a package's own SDF "
        "there is updated in place.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="'-' (stdout), a FILE, or a DIR for {package}.yaml "
        "(default: --sdf-dir, else stdout).")] = None,
    no_model: Annotated[bool, typer.Option(
        "--no-model", help="Rules only: do not consult the learned role model.")] = False,
    update: Annotated[bool | None, typer.Option(
        "--update/--no-update", help="Merge into the existing SDF (default when "
        "--sdf-dir has one).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when a file would change.")] = False,
) -> None:
    """Propose SDFs for packages, from their files and ELF needs on every arch."""
    from rich.console import Console

    from sdfgen.rpm.session import open_session
    from sdfgen.slicing.proposer import Proposer

    names = list(dict.fromkeys(packages or []))
    if all_packages and names:
        raise ConfigError("give package names or --all, not both")
    if not all_packages and not names:
        raise ConfigError("no package given (name packages or use --all)")
    if sdf_dir is not None and not sdf_dir.is_dir():
        raise ConfigError(f"--sdf-dir {sdf_dir}: not a directory")
    if update and sdf_dir is None:
        raise ConfigError("--update needs --sdf-dir (where the SDFs to update are)")
    options = repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
    err = Console(stderr=True)
    with open_session(options) as session:
        proposer = Proposer(session, sdf_dir=sdf_dir, use_model=not no_model)
        if all_packages:
            names = proposer.all_names()
        destination, is_dir = _destination(output, sdf_dir,
                                           many=all_packages or len(names) > 1)
        if all_packages and destination is None:
            raise ConfigError("--all writes one file per package: give -o DIR or --sdf-dir")
        writer = _Writer(destination, is_dir, sdf_dir, update, check, err, proposer)
        proposer.proposing = frozenset(names)  # read in full once, never lazily first
        if all_packages:
            _run_all(proposer, names, writer, err)
        else:
            for name in names:
                writer.handle(proposer.propose(name))
    if writer.would_change or writer.refused:
        raise typer.Exit(1)


def _destination(output: str | None, sdf_dir: Path | None, *,
                 many: bool) -> tuple[Path | None, bool]:
    """Where SDFs go: (None, False) for stdout, else (path, whether it is a directory)."""
    if output == "-" or (output is None and sdf_dir is None):
        return None, False
    if output is None:
        assert sdf_dir is not None
        return sdf_dir, True
    target = Path(output)
    if target.is_dir() or output.endswith("/") or many:
        if target.exists() and not target.is_dir():
            raise ConfigError(f"-o {output}: not a directory (several SDFs need one)")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"-o {output}: cannot make the directory: "
                              f"{exc.strerror or exc}") from exc
        return target, True
    return target, False


def _run_all(proposer: Proposer, names: list[str], writer: _Writer, err: Console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("propose", total=len(names))
        for name in names:
            progress.update(task, description=f"propose {name}")
            writer.handle(proposer.propose(name))
            progress.advance(task)


class _Writer:
    """Emits or merges each proposal and writes it where the options say."""

    def __init__(self, destination: Path | None, is_dir: bool, sdf_dir: Path | None,
                 update: bool | None, check: bool, err: Console,
                 proposer: Proposer | None = None) -> None:
        self.destination = destination
        self.proposer = proposer
        self.refused = False
        self.merged: dict[str, Sdf] = {}  # SDFs this run updated, by package
        self.is_dir = is_dir
        self.stdout_docs = 0
        self.sdf_dir = sdf_dir
        self.update = update
        self.check = check
        self.err = err
        self.would_change = False

    def target(self, package: str) -> Path | None:
        from sdfgen.sdf.model import PACKAGE_NAME_RE

        if self.destination is None:
            return None
        if self.is_dir:
            if not PACKAGE_NAME_RE.match(package):
                raise ConfigError(f"package name {package!r} is not usable as a file name")
            return self.destination / f"{package}.yaml"
        return self.destination

    def handle(self, proposal: Proposal) -> None:
        from sdfgen.slicing.emit import emit
        from sdfgen.slicing.sliceable import as_utf8

        existing = (self.sdf_dir / f"{proposal.package}.yaml") if self.sdf_dir else None
        if existing is not None and existing.is_file() and self.update is not False:
            # The proposal's notes are about its own deps, which a merge keeps out.
            self._update(existing, proposal)
            return
        for note in proposal.notes:
            self.err.print(f"{proposal.package}: {note}", highlight=False, markup=False,
                           soft_wrap=True)
        # A refused name (not UTF-8) is still listed in the trailer's comments: escaped.
        text = as_utf8(emit(proposal))
        target = self.target(proposal.package)
        if self.check:
            # Bytes, not text: a file that is not UTF-8 simply differs.
            old = target.read_bytes() if target and target.is_file() else None
            if old != text.encode("utf-8"):
                self.would_change = True
                self.err.print(f"{proposal.package}: {target or 'stdout'} would change",
                               markup=False, highlight=False, soft_wrap=True)
            return
        self._write(target, text)

    def _update(self, existing: Path, proposal: Proposal) -> None:
        from sdfgen.slicing.update import update_sdf

        inputs = None
        if self.proposer is not None:
            from sdfgen.slicing.baseline import update_inputs

            inputs = update_inputs(self.proposer, proposal, existing)
        result = update_sdf(existing, proposal, inputs)
        say = [f"vanished: {line}" for line in result.vanished]
        say += [f"added {line}" for line in result.added] + list(result.notes)
        if result.stale_header:
            say.append(f"stale header ({result.stale_header})")
        for line in say:
            self.err.print(f"{existing}: {line}", highlight=False, markup=False,
                           soft_wrap=True)
        if result.changed:
            errors = self._findings(existing, result.old, result.new)
            if errors:
                # The merge would leave an SDF check rejects: write nothing, say why.
                self.refused = True
                self.err.print(f"{existing}: not updated: the result fails sdfgen check "
                               f"({len(errors)} error(s)):", highlight=False, markup=False,
                               soft_wrap=True)
                for line in errors:
                    self.err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
                return
        target = self.target(proposal.package)
        diff = result.diff()
        if diff:
            stream = sys.stderr if target is None else sys.stdout
            stream.write(diff)
        if self.check:
            if result.changed:
                self.would_change = True
            return
        if target is None:
            self._write(None, result.new)
        elif result.changed or target.resolve() != existing.resolve():
            self._write(target, result.new)
            self._remember(existing, result.new)

    def _remember(self, path: Path, text: str) -> None:
        from sdfgen.sdf.document import parse_document
        from sdfgen.sdf.model import sdf_from_document

        sdf = sdf_from_document(parse_document(text, path, editable=False))
        self.merged[sdf.package] = sdf

    def _findings(self, path: Path, old: str, new: str) -> list[str]:
        """The errors ``sdfgen check`` finds in ``new`` (the merged text of ``path``)
        against the proposer's repositories; those ``old`` had too are marked."""
        if self.proposer is None:
            return []
        from sdfgen.checks.base import CheckContext, Overlay
        from sdfgen.checks.findings import Severity
        from sdfgen.checks.runner import SessionPackages, run_checks
        from sdfgen.sdf.document import parse_document
        from sdfgen.sdf.model import sdf_from_document

        session = self.proposer.session
        packages = SessionPackages(session)
        found = []
        for text in (new, old):
            sdf = sdf_from_document(parse_document(text, path, editable=False))
            # The SDFs of --sdf-dir are read only where the check's lookups lead.
            universe = Overlay({**self.merged, sdf.package: sdf}, self.proposer.sdfs)
            context = CheckContext((sdf,), universe, tuple(session.arches), packages)
            found.append([f for f in run_checks(context) if f.severity is Severity.ERROR])
        before = {(f.id, f.message) for f in found[1]}
        return [str(f) + (" (already so before --update)" if (f.id, f.message) in before
                          else "") for f in found[0]]

    def _write(self, target: Path | None, text: str) -> None:
        from sdfgen.sdf.document import write_atomic
        from sdfgen.slicing.sliceable import as_utf8

        if target is None:
            # Several SDFs on stdout: one YAML stream of documents.
            sys.stdout.write(("---\n" if self.stdout_docs else "") + text)
            self.stdout_docs += 1
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # -o below a regular file, or in a directory that cannot be made.
            raise ConfigError(as_utf8(f"-o {target}: cannot make directory {target.parent}: "
                                      f"{exc.strerror or exc}")) from exc
        write_atomic(target, text)
