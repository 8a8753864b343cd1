"""The ``check`` and ``diff`` commands, added to the ``sdfgen`` app by :func:`register`.

Thin as the rest of the CLI: parse options, call :mod:`sdfgen.checks.runner` /
:mod:`sdfgen.sdf.diff`, print. ``check`` exits 0 without errors, 1 with errors;
``sdfgen.cli.app.main`` maps exceptions (a missing path, an unreachable repository) to exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
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

if TYPE_CHECKING:
    from sdfgen.facts import PackageMeta

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``diff`` to ``app``."""
    app.command()(check)
    app.command()(diff)


def check(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="SDF files or directories of them (default: the current directory).")] = None,
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    arch: ArchOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Check SDFs: schema, deps, and (with --mirror/--repo/--repofile) globs and ELF
    needs against the repository, per arch. Exit 1 when errors are found."""
    from sdfgen.checks.findings import Severity, has_errors
    from sdfgen.checks.runner import SessionPackages, check_paths
    from sdfgen.rpm.session import open_session

    options = repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
    targets = list(paths or [Path(".")])
    if mirror or repo or repofile:
        with open_session(options) as session:
            findings = check_paths(targets, tuple(session.arches), SessionPackages(session))
    else:
        findings = check_paths(targets, options.arches)
        if not as_json:
            typer.echo("note: repository checks skipped (give --mirror, --repo or --repofile)",
                       err=True)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if as_json:
        sys.stdout.write(json.dumps({
            "schema": "sdfgen-check", "schema_version": 1,
            "errors": errors, "warnings": warnings,
            "findings": [f.to_json() for f in findings],
        }, indent=2) + "\n")
    else:
        for item in findings:
            typer.echo(str(item))
        typer.echo(f"{errors} error(s), {warnings} warning(s)")
    if has_errors(findings):
        raise typer.Exit(1)


def diff(
    old: Annotated[Path, typer.Argument(help="The old SDF file.")],
    new: Annotated[Path, typer.Argument(help="The new SDF file.")],
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    arch: ArchOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Semantic difference of two SDFs: slices, deps, path rules, and (with repository
    options) files moved between slices, the files each slice selects before and after,
    and each slice's bytes, per arch (a change equal on every arch is said once). Each
    SDF is read against the build its header names, else the newest."""
    from sdfgen.review.collect import BuildPackages, header_build
    from sdfgen.rpm.session import open_session
    from sdfgen.sdf.diff import diff_sdfs, render_diff, selection_changes, selections
    from sdfgen.sdf.model import Sdf, load_sdf

    before, after = load_sdf(old), load_sdf(new)
    result = diff_sdfs(before, after)
    compared: tuple[str, ...] = ()
    builds: list[str] = []
    if mirror or repo or repofile:
        options = repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
        with open_session(options) as session:
            compared = tuple(session.arches)
            sources = []
            for sdf in (before, after):
                pins = {}
                for one in compared:
                    nevra, known, meta = header_build(session, one, sdf)
                    if meta is None and nevra is not None and known == "header":
                        builds.append(f"{sdf.path}: {one}: its header's {nevra} is not in "
                                      "the repositories; read against the newest build")
                        meta = header_build(session, one, Sdf(sdf.package))[2]
                    if meta is not None:
                        pins[(one, sdf.package)] = meta
                sources.append(BuildPackages(session, pins))
            builds += _build_lines(compared, sources[0].pins, sources[1].pins)
            # Renames by the files two slices share: found even when some files moved.
            result = diff_sdfs(before, after, (selections(before, sources[0], compared),
                                               selections(after, sources[1], compared)))
            result = selection_changes(result, before, after, sources[0], compared,
                                       sources[1])
    if as_json:
        document = result.to_json()
        if builds:
            document["builds"] = builds
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        for line in builds:
            typer.echo(line)
        for line in render_diff(result, compared):
            typer.echo(line)
        if compared and not result.selections:
            # Rules may change while what they select does not: say so, it is the point.
            typer.echo(f"files selected: unchanged on {', '.join(compared)}")


def _build_lines(arches: tuple[str, ...], old: Mapping[tuple[str, str], PackageMeta],
                 new: Mapping[tuple[str, str], PackageMeta]) -> list[str]:
    """'builds: x86_64 zlib-1.2.13-1 -> zlib-1.2.13-1.1' where the sides' builds differ."""
    lines = []
    for one in arches:
        before = next((m.nevra for (a, _), m in old.items() if a == one), None)
        after = next((m.nevra for (a, _), m in new.items() if a == one), None)
        if before != after:
            lines.append(f"builds: {one} {before or '(none)'} -> {after or '(none)'}")
    return lines
