"""The ``review`` and ``graph`` commands, added to the ``sdfgen`` app by :func:`register`.

Thin: resolve the inputs, call :mod:`sdfgen.review`, write. ``review`` writes Markdown
to ``-o`` (default stdout) and the slice graph as SVG and PNG into ``--graph-dir``
(default: beside the report; none when the report goes to stdout without it). ``graph``
writes DOT, SVG or PNG by ``-o``'s suffix (default: DOT on stdout).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

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


def register(app: typer.Typer) -> None:
    """Add ``review`` and ``graph`` to ``app``."""
    app.command()(review)
    app.command()(graph)


def review(
    old: Annotated[str, typer.Argument(
        help="The old SDF directory, or REV:PATH (a directory of a git revision).")],
    new: Annotated[str, typer.Argument(help="The new SDF directory, or REV:PATH.")],
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    arch: ArchOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    distrofiles: Annotated[list[Path] | None, typer.Option(
        "--distrofiles", help="Directories of Distrofiles (repeatable; default "
        "../distrofiles beside each SDF set).")] = None,
    out: Annotated[str, typer.Option(
        "-o", "--out", help="The Markdown report ('-': stdout).")] = "-",
    graph_dir: Annotated[Path | None, typer.Option(
        "--graph-dir", help="Where the graph's SVG and PNG go (default: beside -o).")] = None,
) -> None:
    """A pull-request report of OLD -> NEW in Markdown: per package the builds and its own
    file changes, per slice files and bytes per arch, slices added/removed/renamed and
    the Distrofiles and SDFs using them, check findings, and a picture of the slice
    graph with the changes marked (SVG and PNG, through graphviz)."""
    from sdfgen.review.collect import collect_review
    from sdfgen.review.dot import draw
    from sdfgen.review.graph import to_dot
    from sdfgen.review.report import render_report
    from sdfgen.review.sources import resolve_set
    from sdfgen.rpm.session import open_session

    for directory in distrofiles or ():
        if not directory.is_dir():
            raise ConfigError(f"--distrofiles {directory}: not a directory")
    report = None if out == "-" else Path(out)
    if report is not None and not (report.parent if str(report.parent) else Path(".")
                                   ).is_dir():
        raise ConfigError(f"-o {out}: no such directory {str(report.parent)!r}")
    pictures = graph_dir or (report.parent if report is not None else None)
    if pictures is not None and not pictures.is_dir():
        raise ConfigError(f"--graph-dir {pictures}: not a directory")
    stem = (report.stem if report is not None else "review") + "-graph"
    options = repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
    with tempfile.TemporaryDirectory(prefix="sdfgen-review-") as scratch:
        old_set = resolve_set(old, "OLD", Path(scratch), tuple(distrofiles or ()))
        new_set = resolve_set(new, "NEW", Path(scratch), tuple(distrofiles or ()))
        if mirror or repo or repofile:
            with open_session(options) as session:
                result = collect_review(old_set, new_set, options.arches, session)
        else:
            typer.echo("note: no repository given: no builds, files or bytes "
                       "(give --mirror, --repo or --repofile)", err=True)
            result = collect_review(old_set, new_set, options.arches, None)
    picture = svg = None
    if pictures is not None:
        dot_text = to_dot(result.graph)
        svg_path, png_path = pictures / f"{stem}.svg", pictures / f"{stem}.png"
        draw(dot_text, svg_path)
        draw(dot_text, png_path)
        base = report.parent if report is not None else Path(".")
        svg = os.path.relpath(svg_path, base)
        picture = os.path.relpath(png_path, base)
    text = render_report(result, picture, svg)
    if report is None:
        sys.stdout.write(text)
    else:
        from sdfgen.sdf.document import write_atomic

        write_atomic(report, text)
        typer.echo(f"wrote {report}" + (f", {picture} and {svg}" if picture else ""),
                   err=True)


def graph(
    target: Annotated[Path, typer.Argument(
        help="A directory of SDFs, or a Distrofile (with --sdf-dir).")],
    sdf_dir: Annotated[Path | None, typer.Option(
        "--sdf-dir", help="The SDFs a Distrofile's parts come from (default ../sdf "
        "beside it).")] = None,
    out: Annotated[str, typer.Option(
        "-o", "--out", help="FILE.svg, FILE.png or FILE.dot ('-': DOT on stdout).")] = "-",
) -> None:
    """Draw the slice dependency graph of a set of SDFs, or of a Distrofile's closure:
    clusters per package, dotted arrows for top-level deps, missing slices dashed."""
    from sdfgen.review.dot import draw, format_of
    from sdfgen.review.graph import slice_graph, to_dot

    if out != "-":
        format_of(Path(out))  # a wrong suffix is refused before any work
    if target.is_dir():
        if sdf_dir is not None:
            raise ConfigError(f"--sdf-dir {sdf_dir}: only for a Distrofile; {target} is "
                              "a directory of SDFs")
        from sdfgen.checks.runner import load_targets

        loaded = load_targets([target])
        if loaded.failures:
            first = loaded.failures[0]
            raise ConfigError(f"{first.file}: {first.message}")
        drawn = slice_graph(loaded.universe, title=f"{target.name or target}: "
                            f"{sum(len(s.slices) for s in loaded.universe.values())} "
                            f"slice(s) of {len(loaded.universe)} package(s)")
    elif target.is_file():
        from sdfgen.review.distros import distrofile_graph

        directory = sdf_dir or target.resolve().parent.parent / "sdf"
        if not directory.is_dir():
            raise ConfigError(f"{target}: no SDF directory {directory} (give --sdf-dir)")
        drawn = distrofile_graph(target, directory)
    else:
        raise ConfigError(f"{target}: no such file or directory")
    dot_text = to_dot(drawn)
    if out == "-":
        sys.stdout.write(dot_text)
    else:
        draw(dot_text, Path(out))
