"""Probe files: which commands prove that a program does its common job.

In: the catalog sdfgen ships (``sdfgen/data/probes.yaml``) and, optionally, a user's
probes file of the same schema (``probes.yml`` beside the SDFs: not ``*.yaml``, so the
SDF tools, which read every ``*.yaml`` of the directory, never take it for an SDF).
Out: a :class:`ProbeCatalog` that answers, for a program path, its
:class:`ProgramProbes`; a program no entry matches gets ``--version``, then ``--help``,
and passes if one of them exits 0.

Schema (version 1)::

    version: 1
    programs:
      KEY:                       # a basename, or an absolute path
        match: [NAME_OR_PATH...] # shell-style globs; default [KEY]
        data: [PATH...]          # files a user adds on purpose (a zone, the CA bundle)
        probes:
          - args: [ARG...]       # after the program
            exit: 0              # expected exit code (default 0)
            output: REGEX        # searched in stdout+stderr (multi-line)
            timeout: 120         # seconds

A user's entry replaces the catalog's entry of the same key and is consulted first.
Every problem is a one-line :class:`SdfError` naming the file and line.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sdfgen.errors import SdfError
from sdfgen.sdf.document import item_line, key_line, load_document, parse_document

SCHEMA_VERSION = 1
USER_FILE = "probes.yml"
DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 3600.0
_PROGRAM_KEYS = {"match", "data", "probes"}
_PROBE_KEYS = {"args", "exit", "output", "timeout"}


@dataclass(frozen=True)
class Probe:
    """One command: the program with ``args``; passes on exit code ``exit`` and, when
    ``output`` is set, when that regex is found in the output."""

    args: tuple[str, ...]
    exit: int = 0
    output: str | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class ProgramProbes:
    """The probes of the programs ``match`` selects; ``any_of``: one passing is enough
    (the default probes), else every probe must pass. ``source`` says where they come
    from (``catalog``, ``FILE:LINE`` or ``default``)."""

    key: str
    match: tuple[str, ...]
    probes: tuple[Probe, ...]
    data: tuple[str, ...] = ()
    any_of: bool = False
    source: str = "catalog"

    def matches(self, program: str) -> bool:
        """Whether ``program`` (an absolute path) is one of these entries' programs."""
        name = posixpath.basename(program)
        return any(fnmatch.fnmatchcase(program if pattern.startswith("/") else name, pattern)
                   for pattern in self.match)


DEFAULT_PROBES = ProgramProbes("*", ("*",), (Probe(("--version",)), Probe(("--help",))),
                               any_of=True, source="default")


@dataclass(frozen=True)
class ProbeCatalog:
    """Entries in the order they are consulted (the user's first)."""

    entries: tuple[ProgramProbes, ...]

    def for_program(self, program: str) -> ProgramProbes:
        """The first entry that matches ``program``, else :data:`DEFAULT_PROBES`."""
        for entry in self.entries:
            if entry.matches(program):
                return entry
        return DEFAULT_PROBES


def load_catalog(user_file: Path | None = None) -> ProbeCatalog:
    """The shipped catalog, with ``user_file``'s entries first and replacing the
    catalog's entries of the same key."""
    text = resources.files("sdfgen").joinpath("data", "probes.yaml").read_text("utf-8")
    shipped = parse_probes(parse_document(text, Path("sdfgen/data/probes.yaml"),
                                          editable=False).data, "sdfgen/data/probes.yaml",
                           "catalog")
    if user_file is None:
        return ProbeCatalog(shipped)
    doc = load_document(Path(user_file), editable=False)
    mine = parse_probes(doc.data, str(user_file), None)
    keys = {entry.key for entry in mine}
    return ProbeCatalog(mine + tuple(e for e in shipped if e.key not in keys))


def parse_probes(data: Any, name: str, source: str | None) -> tuple[ProgramProbes, ...]:
    """The entries of one probes document (``name`` in messages; ``source`` labels the
    entries, default ``NAME:LINE``)."""
    if not isinstance(data, dict):
        raise SdfError(f"{name}: a probes file is a mapping with 'version' and 'programs'")
    unknown = sorted(set(data) - {"version", "programs"})
    if unknown:
        raise SdfError(f"{name}:{key_line(data, unknown[0]) or 1}: unknown key "
                       f"{unknown[0]!r} (want version, programs)")
    if data.get("version") != SCHEMA_VERSION:
        raise SdfError(f"{name}:{key_line(data, 'version') or 1}: version must be "
                       f"{SCHEMA_VERSION}, not {data.get('version')!r}")
    programs = data.get("programs")
    if not isinstance(programs, dict) or not programs:
        raise SdfError(f"{name}:{key_line(data, 'programs') or 1}: 'programs' must be a "
                       "non-empty mapping of program name -> probes")
    return tuple(_program(programs, str(key), name, source) for key in programs)


def _program(programs: Any, key: str, name: str, source: str | None) -> ProgramProbes:
    body = programs[key]
    where = f"{name}:{key_line(programs, key) or 1}"
    if not key.strip():
        raise SdfError(f"{where}: empty program name")
    if not isinstance(body, dict):
        raise SdfError(f"{where}: programs.{key} must be a mapping with 'probes'")
    unknown = sorted(set(body) - _PROGRAM_KEYS)
    if unknown:
        raise SdfError(f"{name}:{key_line(body, unknown[0]) or 1}: programs.{key}: unknown "
                       f"key {unknown[0]!r} (want {', '.join(sorted(_PROGRAM_KEYS))})")
    match = _strings(body, "match", f"programs.{key}", name) or (key,)
    data = _strings(body, "data", f"programs.{key}", name)
    for path in data:
        if not path.startswith("/"):
            raise SdfError(f"{name}:{key_line(body, 'data') or 1}: programs.{key}.data: "
                           f"{path!r} is not an absolute path")
    probes = body.get("probes")
    if not isinstance(probes, list) or not probes:
        raise SdfError(f"{name}:{key_line(body, 'probes') or key_line(programs, key) or 1}: "
                       f"programs.{key}.probes must be a non-empty list")
    parsed = tuple(_probe(probes, i, f"programs.{key}.probes[{i}]", name)
                   for i in range(len(probes)))
    return ProgramProbes(key, match, parsed, data,
                         source=source or f"{name}:{key_line(programs, key) or 1}")


def _strings(body: Any, field: str, where: str, name: str) -> tuple[str, ...]:
    value = body.get(field)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SdfError(f"{name}:{key_line(body, field) or 1}: {where}.{field} must be a "
                       "list of non-empty strings")
    return tuple(value)


def _probe(probes: Any, index: int, where: str, name: str) -> Probe:
    body = probes[index]
    line = item_line(probes, index) or 1
    if not isinstance(body, dict):
        raise SdfError(f"{name}:{line}: {where} must be a mapping with 'args'")
    unknown = sorted(set(body) - _PROBE_KEYS)
    if unknown:
        raise SdfError(f"{name}:{key_line(body, unknown[0]) or line}: {where}: unknown key "
                       f"{unknown[0]!r} (want {', '.join(sorted(_PROBE_KEYS))})")
    args = body.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int)) and
                                             not isinstance(a, bool) for a in args):
        raise SdfError(f"{name}:{key_line(body, 'args') or line}: {where}.args must be a "
                       "list of strings")
    code = body.get("exit", 0)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        raise SdfError(f"{name}:{key_line(body, 'exit') or line}: {where}.exit must be an "
                       f"exit code 0-255, not {code!r}")
    output = body.get("output")
    if output is not None:
        if not isinstance(output, str):
            raise SdfError(f"{name}:{key_line(body, 'output') or line}: {where}.output must "
                           "be a regex string")
        try:
            re.compile(output, re.MULTILINE)
        except re.error as exc:
            raise SdfError(f"{name}:{key_line(body, 'output') or line}: {where}.output: bad "
                           f"regex {output!r}: {exc}") from exc
    timeout = body.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or \
            not 0 < timeout <= MAX_TIMEOUT:
        raise SdfError(f"{name}:{key_line(body, 'timeout') or line}: {where}.timeout must "
                       f"be seconds, more than 0 and at most {MAX_TIMEOUT:g}")
    return Probe(tuple(str(a) for a in args), code, output, float(timeout))


def user_probes_file(sdf_dir: Path) -> Path | None:
    """The user's probes file beside the SDFs, None when there is none."""
    path = Path(sdf_dir) / USER_FILE
    return path if path.is_file() else None
