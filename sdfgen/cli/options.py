"""Options every command that reads packages shares (``--release``, ``--mirror``, ...).

Kept apart from ``sdfgen.cli.app`` so that command modules (``cli.sdf``, ``cli.propose``,
``builder.cli``) can import them without importing the app that registers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdfgen.errors import ConfigError
from sdfgen.rpm.session import RepoOptions

DEFAULT_ARCHES = ("x86_64", "aarch64")
# An hour per read is already far beyond any live server; the cache's sweep of partial
# downloads relies on a running download writing at least this often.
MAX_TIMEOUT = 3600.0


def parse_timeout(value: str | float) -> float:
    """``--timeout`` as seconds: a finite number above 0 and at most an hour.

    Raises ConfigError (one line, naming the option) for anything else: -1, 0, nan
    and inf would mean "fail at once" or "never time out", neither of which is wanted.
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--timeout {value!s}: not a number of seconds") from None
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for nan
        raise ConfigError(f"--timeout {value!s}: must be more than 0 and at most "
                          f"{MAX_TIMEOUT:g} seconds")
    return seconds


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
    float,
    typer.Option("--timeout", parser=parse_timeout, metavar="SECONDS",
                 help="Network timeout in seconds per read (0 < SECONDS <= 3600); each "
                 "download also has an overall deadline."),
]


def repo_options(release: str, mirror: str | None, repo: list[str] | None,
                  repofile: list[Path] | None, arch: list[str] | None,
                  cache_dir: Path | None, timeout: float) -> RepoOptions:
    """The shared repository options as a RepoOptions value."""
    return RepoOptions(
        release=release,
        mirror=mirror,
        repos=tuple(repo or ()),
        repofiles=tuple(repofile or ()),
        arches=tuple(arch or DEFAULT_ARCHES),
        cache_dir=cache_dir,
        timeout=timeout,
    )
