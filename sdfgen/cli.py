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
from typing import Annotated

import typer
from rich.console import Console

from sdfgen import __version__
from sdfgen.errors import PackageNotFoundError, SdfgenError
from sdfgen.session import RepoOptions

app = typer.Typer(
    name="sdfgen",
    help="Authoring assistant for openEuler Slice Definition Files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_ARCHES = ("x86_64", "aarch64")

# Options every command that reads packages shares.
ReleaseOpt = Annotated[str, typer.Option("--release", help="openEuler release.")]
MirrorOpt = Annotated[
    str | None,
    typer.Option("--mirror", help="Server with openEuler-{release}/{OS,everything,EPOL/main,"
                 "update}/$basearch/ (default https://repo.openeuler.org/)."),
]
RepoOpt = Annotated[
    list[str] | None,
    typer.Option("--repo", help="A repository base URL or directory (repeatable)."),
]
RepofileOpt = Annotated[
    list[Path] | None,
    typer.Option("--repofile", help="A dnf .repo file (repeatable)."),
]
ArchOpt = Annotated[
    list[str] | None,
    typer.Option("--arch", help="x86_64 and/or aarch64 (repeatable; default both)."),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Metadata and RPM cache directory."),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Network timeout in seconds per request.")
]


def _repo_options(release: str, mirror: str | None, repo: list[str] | None,
                  repofile: list[Path] | None, arch: list[str] | None,
                  cache_dir: Path | None, timeout: float) -> RepoOptions:
    return RepoOptions(
        release=release,
        mirror=mirror,
        repos=tuple(repo or ()),
        repofiles=tuple(repofile or ()),
        arches=tuple(arch or DEFAULT_ARCHES),
        cache_dir=cache_dir,
        timeout=timeout,
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
    from sdfgen.inspect import inspect_package, report_to_json
    from sdfgen.render import render_inspect

    options = _repo_options(release, mirror, repo, repofile, arch, cache_dir, timeout)
    console = Console(stderr=True)
    reports = inspect_package(package, options, progress=_progress(console, as_json))
    if as_json:
        sys.stdout.write(json.dumps(report_to_json(reports), indent=2, sort_keys=False) + "\n")
    else:
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
    folds: Annotated[int, typer.Option("--folds")] = 5,
) -> None:
    """Learn file roles from hand-written slices; --eval prints models/REPORT.md's content."""
    from sdfgen import training
    from sdfgen.corpus import default_corpus_dir

    corpus_dir = corpus or default_corpus_dir(Path(__file__).resolve().parent.parent)
    if evaluate:
        report = training.evaluate(corpus_dir, folds=folds, seed=seed)
        sys.stdout.write(training.render_report(report))
        return
    result = training.train(corpus_dir, out, seed=seed, folds=folds)
    typer.echo(f"trained on {result.samples} files in {result.seconds:.1f} s: {result.model_path}")


@app.command()
def version() -> None:
    """Print sdfgen's version."""
    typer.echo(f"sdfgen {__version__}")


def _stdout_console() -> Console:
    # Piped output (a file, less, a review tool) gets a width that keeps paths whole.
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=200)


def _progress(console: Console, quiet: bool):  # type: ignore[no-untyped-def]
    from sdfgen.render import DownloadProgress

    return None if quiet or not console.is_terminal else DownloadProgress(console)


def _register_commands() -> None:
    from sdfgen.cli_sdf import register as register_sdf

    register_sdf(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (testable without a subprocess)."""
    try:
        # Without standalone mode click hands back typer.Exit's code instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except SdfgenError as exc:
        message = str(exc)
        suggestions = exc.suggestions if isinstance(exc, PackageNotFoundError) else ()
        if suggestions and "did you mean" not in message:
            message += f"; did you mean: {', '.join(suggestions)}?"
        typer.echo(f"error: {message}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return 2
        raise
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
