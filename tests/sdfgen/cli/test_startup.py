"""Start-up stays light: the CLI entry modules, ``--help`` and ``version`` import none of the
heavy libraries; the commands that need them import them when they run.

Each case runs in a new process, since this test session has imported everything already.
Which modules load is deterministic; how long start-up takes is measured by
``benchmarks/startup.py``, not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "numpy", "scipy", "elftools", "rpmfile", "zstandard", "ruamel",
         "http.client", "rich.console", "rich.progress", "rich.table")

_PROBE = """
import contextlib, io, json, sys
import builder.cli, sdfgen.cli.app
{code}
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules
                        if any(m == h or m.startswith(h + ".") for h in heavy))))
"""


def heavy_modules_after(code: str) -> list[str]:
    """The heavy modules a new interpreter has loaded after importing the CLI and ``code``."""
    probe = _PROBE.format(code=code, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def _run(tool: str, argv: list[str]) -> str:
    """Probe code that runs ``tool``'s main(argv), output discarded, and checks it succeeded."""
    module = {"sdfgen": "sdfgen.cli.app", "builder": "builder.cli"}[tool]
    return (f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert {module}.main({argv!r}) == 0\n")


@pytest.mark.parametrize(("tool", "argv"), [
    ("sdfgen", ["--help"]),
    ("sdfgen", ["version"]),
    ("sdfgen", ["propose", "--help"]),
    ("sdfgen", ["check", "--help"]),
    ("builder", ["--help"]),
    ("builder", ["build", "--help"]),
])
def test_command_loads_no_heavy_module(tool: str, argv: list[str]) -> None:
    assert heavy_modules_after(_run(tool, argv)) == []


def test_importing_the_entry_modules_loads_no_heavy_module() -> None:
    assert heavy_modules_after("") == []


def test_probe_sees_heavy_modules() -> None:
    # Guards the tests above against passing because the probe cannot see anything.
    assert {"http.client", "rich.table"} <= set(heavy_modules_after(
        "import http.client, rich.table"))
