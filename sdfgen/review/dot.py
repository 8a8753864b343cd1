"""Drawing DOT text with Graphviz's ``dot`` (the Debian package ``graphviz``).

``dot`` is run as a subprocess: the DOT text is the project's own (deterministic, see
:mod:`sdfgen.review.graph`), so the PyPI ``graphviz`` wrapper would add a dependency
that only builds strings and calls the same binary. Every file is written through a
temporary file beside it and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from sdfgen.errors import ConfigError, SdfgenError

FORMATS = ("svg", "png", "dot")
DOT_TIMEOUT = 120.0  # seconds; the graph of 300 SDFs takes about 2
Runner = Callable[[list[str], bytes], bytes]


def _run_dot(argv: list[str], stdin: bytes) -> bytes:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=DOT_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise SdfgenError(f"{argv[0]}: no picture after {DOT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SdfgenError(f"{argv[0]} failed (exit {done.returncode}): "
                          f"{message[0] if message else 'no message'}")
    return done.stdout


def dot_binary() -> str:
    """The path of ``dot``; raises ConfigError saying what to install when it is missing."""
    found = shutil.which("dot")
    if found is None:
        raise ConfigError("graphviz's 'dot' is not on PATH: install the Debian package "
                          "graphviz (apt-get install graphviz)")
    return found


def render(dot_text: str, fmt: str, run: Runner = _run_dot) -> bytes:
    """``dot_text`` drawn as ``fmt`` (``svg`` or ``png``; ``dot``: the text itself)."""
    if fmt == "dot":
        return dot_text.encode("utf-8")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown picture format {fmt!r} (known: {', '.join(FORMATS)})")
    return run([dot_binary(), f"-T{fmt}"], dot_text.encode("utf-8"))


def format_of(path: Path) -> str:
    """The format a file name asks for by its suffix; ConfigError naming it otherwise."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ConfigError(f"{path}: the file name must end in .svg, .png or .dot")
    return fmt


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise SdfgenError(f"{directory}: cannot write there: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SdfgenError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        raise


def draw(dot_text: str, path: Path, run: Runner = _run_dot) -> None:
    """Draw ``dot_text`` into ``path`` in the format its suffix names."""
    write_bytes_atomic(path, render(dot_text, format_of(path), run))
