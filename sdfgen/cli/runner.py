"""Running a typer app as a testable ``main(argv) -> exit code``: the one place where
exceptions become one-line messages and exit codes for both ``sdfgen`` and ``builder``.

0 success; 1 the command found problems (check findings, failed smoke runs);
2 the command could not do its job (bad input, unreachable repository, corrupt RPM);
130 interrupted.
"""

from __future__ import annotations

import typer

from sdfgen.errors import SdfgenError


def run_app(app: typer.Typer, argv: list[str] | None) -> int:
    """Run ``app`` on ``argv`` (None: sys.argv) and return its exit code."""
    try:
        # Without standalone mode click returns (not raises) the code of typer.Exit.
        code = app(args=argv, standalone_mode=False)
    except SdfgenError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except Exception as exc:
        # Usage errors of the click typer vendors know how to show themselves.
        exit_code = getattr(exc, "exit_code", None)
        if callable(getattr(exc, "show", None)) and isinstance(exit_code, int):
            exc.show()  # type: ignore[attr-defined]
            return exit_code
        raise
    return code if isinstance(code, int) else 0
