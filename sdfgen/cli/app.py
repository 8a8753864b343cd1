"""The ``sdfgen`` command line: parse options, call the library, print.

Exit codes and the mapping from exceptions to one-line messages live here and only here:
0 success, 1 findings (for commands that report problems in the user's data),
2 the command could not do its job (bad input, unreachable repository, corrupt RPM).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sdfgen import __version__
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
from sdfgen.cli.runner import run_app

if TYPE_CHECKING:
    from rich.console import Console

    from sdfgen.repo.fetch import ProgressCallback

app = typer.Typer(
    name="sdfgen",
    help="Authoring assistant for openEuler Slice Definition Files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich's tables and markdown, which
    # nearly doubles the time `sdfgen --help` takes.
    rich_markup_mode=None,
)

@app.command()
def inspect(
    package: Annotated[str, typer.Argument(help="Package name (or a capability it provides).")],
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    arch: ArchOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show a package's files, ELF facts and NEEDED providers, per arch."""
    from sdfgen.rpm.inspect import inspect_package, report_to_json

    options = repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
    reports = inspect_package(package, options, progress=None if as_json else _progress())
    if as_json:
        sys.stdout.write(json.dumps(report_to_json(reports), indent=2, sort_keys=False) + "\n")
    else:
        from sdfgen.cli.render import render_inspect

        render_inspect(reports, _stdout_console())


@app.command()
def train(
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Corpus directory (default ../shared/corpus).")] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Where the model goes.")] = Path(
        "models"),
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Only evaluate (grouped CV) and print the report.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    folds: Annotated[int, typer.Option("--folds", min=2)] = 5,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", min=1, help="Processes for the fits (default: one per core); same result.",
    )] = None,
) -> None:
    """Learn file roles from hand-written slices; --eval prints models/REPORT.md's content."""
    from sdfgen.roles import training
    from sdfgen.roles.corpus import default_corpus_dir
    from sdfgen.roles.report import render_report

    corpus_dir = corpus or default_corpus_dir(Path(__file__).resolve().parents[2])
    if evaluate:
        report = training.evaluate(corpus_dir, folds=folds, seed=seed, jobs=jobs)
        sys.stdout.write(render_report(report))
        return
    result = training.train(corpus_dir, out, seed=seed, folds=folds, jobs=jobs)
    typer.echo(f"trained on {result.samples} files in {result.seconds:.1f} s: {result.model_path}")


@app.command()
def version() -> None:
    """Print sdfgen's version."""
    typer.echo(f"sdfgen {__version__}")


def _stdout_console() -> Console:
    from rich.console import Console

    # Piped output (a file, less, a review tool) gets a width that keeps paths whole.
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=200)


def _progress() -> ProgressCallback | None:
    """Download bars on stderr when it is a terminal, else None."""
    from rich.console import Console

    from sdfgen.cli.render import DownloadProgress

    console = Console(stderr=True)
    return DownloadProgress(console) if console.is_terminal else None


def _register_commands() -> None:
    from sdfgen.cli.propose import register as register_propose
    from sdfgen.cli.review import register as register_review
    from sdfgen.cli.sdf import register as register_sdf

    register_propose(app)
    register_sdf(app)
    register_review(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (testable without a subprocess)."""
    return run_app(app, argv)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
