"""The semantic model of an openEuler Slice Definition File.

An SDF names a package, top-level deps (applied to every slice) and slices, each with
deps (``{package}_{slice}`` references) and path globs in ``contents.common`` plus
arch-only globs in ``contents.extra.linux-{arch}``. :func:`load_sdf` reads one through
:mod:`sdfgen.sdf.document` and never raises on content problems: unknown keys, wrong types and
duplicate keys are recorded as :class:`SchemaProblem` data for ``sdfgen check``. Only a
file that cannot be read or parsed as YAML raises :class:`SdfError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdfgen.sdf.document import Document, SdfError, item_line, key_line, load_document, node_line
from sdfgen.sdf.globs import Reading, matches

__all__ = [
    "PLATFORMS", "PathRule", "SchemaProblem", "Sdf", "SdfError", "SliceDef", "SliceRef",
    "load_sdf", "load_sdf_dir", "parse_slice_ref", "patterns_for", "sdf_from_document",
    "selected_paths", "slice_of_path", "SLICE_NAME_RE", "package_name_problem",
    "slice_name_problem",
]

PLATFORMS = ("linux-x86_64", "linux-aarch64")
TOP_KEYS = ("package", "deps", "slices")
SLICE_KEYS = ("deps", "contents")
CONTENTS_KEYS = ("common", "extra")

# Slice names: lower-case letters, digits and inner '-' (python3's "data-persistence",
# ncurses' "libncursesw6"). No '_': a reference splits at its last '_', so a slice name
# with one could never be referred to.
SLICE_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
# Package names as RPM allows them, the ones that occur in SDF file names.
PACKAGE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")


def slice_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a slice name, or None when it can.

    The one rule for ``sdfgen check`` (``bad-slice-name``) and the builder, so that no
    image is built from a slice check rejects (``/``, ``..``, spaces, ``_``).
    """
    if SLICE_NAME_RE.match(name):
        return None
    return f"slice name {name!r} is not lower-case letters, digits and inner '-'"


def package_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a package name (``bad-package-name``), or None when it can."""
    if PACKAGE_NAME_RE.match(name):
        return None
    return f"{name!r} is not a valid package name"


@dataclass(frozen=True)
class SliceRef:
    """A ``{package}_{slice}`` reference; ``line`` is where it is written (not compared)."""

    package: str
    slice: str
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.package}_{self.slice}"


def parse_slice_ref(text: str, line: int | None = None) -> SliceRef:
    """Split ``text`` at its LAST '_' (package names may hold '_' and '-');
    raises :class:`SdfError` when either side is empty."""
    package, sep, name = text.strip().rpartition("_")
    if not sep or not package or not name:
        raise SdfError(f"{text!r} is not a slice reference (want PACKAGE_SLICE)")
    return SliceRef(package, name, line)


@dataclass(frozen=True)
class PathRule:
    """One path glob of a slice; ``line`` is where it is written (not compared)."""

    pattern: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SchemaProblem:
    """A structural problem found while loading (stable ``code``; see checks/README.md)."""

    code: str  # unknown-key, wrong-type, duplicate-key, bad-slice-ref, ...
    line: int | None
    message: str


@dataclass(frozen=True)
class SliceDef:
    """One slice: deps, globs for every arch, and globs per platform (``linux-x86_64``)."""

    name: str
    deps: tuple[SliceRef, ...] = ()
    common: tuple[PathRule, ...] = ()
    extra: dict[str, tuple[PathRule, ...]] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)

    @property
    def rules(self) -> tuple[PathRule, ...]:
        """Every rule of the slice, common first, then each platform's."""
        return self.common + tuple(rule for rules in self.extra.values() for rule in rules)


@dataclass(frozen=True)
class Sdf:
    """A whole SDF; ``slices`` keeps file order; ``path`` is None for an in-memory one."""

    package: str
    deps: tuple[SliceRef, ...] = ()
    slices: dict[str, SliceDef] = field(default_factory=dict)
    path: Path | None = None
    schema_problems: tuple[SchemaProblem, ...] = ()
    package_line: int | None = None
    declared_package: str | None = None  # the ``package:`` value as written, if any


def patterns_for(slice_def: SliceDef, arch: str) -> tuple[PathRule, ...]:
    """The rules that apply on ``arch``: common plus ``extra['linux-'+arch]``."""
    return slice_def.common + slice_def.extra.get(f"linux-{arch}", ())


def selected_paths(slice_def: SliceDef, arch: str, paths: Iterable[str],
                   reading: Reading = Reading.SPLITTER) -> dict[str, set[str]]:
    """For each pattern that applies on ``arch``, the ``paths`` it selects."""
    paths = list(paths)
    return {rule.pattern: {p for p in paths if matches(rule.pattern, p, reading)}
            for rule in patterns_for(slice_def, arch)}


def slice_of_path(sdf: Sdf, path: str, arch: str,
                  reading: Reading = Reading.SPLITTER) -> str | None:
    """The first slice (in file order) with a pattern that selects ``path`` on ``arch``."""
    for name, slice_def in sdf.slices.items():
        if any(matches(rule.pattern, path, reading) for rule in patterns_for(slice_def, arch)):
            return name
    return None


def load_sdf(path: Path) -> Sdf:
    """Read the SDF at ``path``; raises :class:`SdfError` only for unreadable/invalid YAML."""
    return sdf_from_document(load_document(Path(path), editable=False))


def load_sdf_dir(directory: Path) -> SdfDirectory:
    """Every ``*.yaml`` SDF under ``directory`` (not recursive), by package name; a second
    file claiming the same package is kept under its file name. Each file is parsed when
    its package is first looked up (see :class:`SdfDirectory`)."""
    return SdfDirectory(directory)


# For the index of a directory: a top-level ``package: NAME`` line (NAME plain or
# quoted), and whatever else at the start of a line could hold the package key.
_PACKAGE_KEY = re.compile(r"""^(?:(?:package|"package"|'package')\s*:|[{?])""", re.MULTILINE)
_PACKAGE_LINE = re.compile(
    r"""^package:[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)'|([^\s#'"][^\s#]*))[ \t]*(?:#.*)?$""",
    re.MULTILINE)


class SdfDirectory(Mapping[str, Sdf]):
    """The SDFs of a directory by package name, each parsed (ruamel, round-trip) only when
    first looked up: a proposal or an image needs a few of a release's hundreds of SDFs.

    The index reads each file's top-level ``package:`` line as text; a file where that
    line is missing, repeated or not a plain name is parsed to learn its package, so the
    keys are the ones parsing every file would give.
    """

    def __init__(self, directory: Path) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise SdfError(f"{directory}: not a directory of SDFs")
        self.directory = directory
        self._paths: dict[str, Path] = {}
        self._loaded: dict[Path, Sdf] = {}
        for path in sorted(directory.glob("*.yaml")):
            claimed = self._claimed_package(path)
            key = claimed if claimed not in self._paths else path.stem
            self._paths[key] = path

    def _claimed_package(self, path: Path) -> str:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return self._load(path).package  # raises the loader's one-line error
        keys = _PACKAGE_KEY.findall(text)
        if not keys:
            return path.stem  # no package key: the file name names the package
        line = _PACKAGE_LINE.search(text)
        if len(keys) == 1 and line is not None:
            name = line.group(1) or line.group(2) or line.group(3)
            if name and package_name_problem(name) is None:
                return name
        return self._load(path).package

    def _load(self, path: Path) -> Sdf:
        if path not in self._loaded:
            self._loaded[path] = load_sdf(path)
        return self._loaded[path]

    def __getitem__(self, package: str) -> Sdf:
        return self._load(self._paths[package])

    def __contains__(self, package: object) -> bool:
        return package in self._paths  # without reading the SDF

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def sdf_from_document(doc: Document) -> Sdf:
    """The model of a loaded (possibly edited) document."""
    return _Builder(doc).build()


class _Builder:
    """Walks a document once, collecting the model and its schema problems."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[SchemaProblem] = []

    def problem(self, code: str, line: int | None, message: str) -> None:
        self.problems.append(SchemaProblem(code, line, message))

    def build(self) -> Sdf:
        doc = self.doc
        stem = doc.path.stem if doc.path is not None else ""
        for dup in doc.duplicates:
            self.problem("duplicate-key", dup.line,
                         f"key {dup.key!r} repeats line {dup.first_line}; "
                         "YAML readers keep only one of them")
        data = doc.data
        if data is None:
            self.problem("empty-document", 1, "the file defines nothing "
                         "(empty or all comments)")
            return Sdf(stem, path=doc.path, schema_problems=tuple(self.problems))
        if not isinstance(data, dict):
            self.problem("wrong-type", node_line(data) or 1,
                         f"top level is {yaml_kind(data)}, not a map")
            return Sdf(stem, path=doc.path, schema_problems=tuple(self.problems))
        for key in data:
            if key not in TOP_KEYS:
                self.problem("unknown-key", key_line(data, key),
                             f"unknown top-level key {key!r} (known: {', '.join(TOP_KEYS)})")
        declared = data.get("package")
        package_line = key_line(data, "package")
        if "package" not in data:
            self.problem("missing-key", 1, "no 'package' key")
        elif not isinstance(declared, str) or not declared:
            self.problem("wrong-type", package_line,
                         f"'package' is {yaml_kind(declared)}, not a package name")
            declared = None
        deps = self.deps(data, "deps", "top-level deps")
        slices: dict[str, SliceDef] = {}
        raw_slices = data.get("slices")
        if "slices" not in data:
            self.problem("missing-key", 1, "no 'slices' key")
        elif not isinstance(raw_slices, dict):
            self.problem("wrong-type", key_line(data, "slices"),
                         f"'slices' is {yaml_kind(raw_slices)}, not a map")
        else:
            for name, body in raw_slices.items():
                slices[str(name)] = self.slice(str(name), body, key_line(raw_slices, name))
        package = declared if isinstance(declared, str) else stem
        return Sdf(package, deps, slices, doc.path, tuple(self.problems), package_line,
                   declared if isinstance(declared, str) else None)

    def deps(self, parent: dict[str, Any], key: str, where: str) -> tuple[SliceRef, ...]:
        if key not in parent or parent[key] is None:
            return ()
        raw = parent[key]
        if not isinstance(raw, list):
            self.problem("wrong-type", key_line(parent, key),
                         f"{where} is {yaml_kind(raw)}, not a list of PACKAGE_SLICE")
            return ()
        refs: list[SliceRef] = []
        for index, item in enumerate(raw):
            line = item_line(raw, index)
            if not isinstance(item, str):
                self.problem("wrong-type", line, f"{where} entry is {yaml_kind(item)}, "
                             "not a PACKAGE_SLICE string")
                continue
            try:
                refs.append(parse_slice_ref(item, line))
            except SdfError as exc:
                self.problem("bad-slice-ref", line, f"{where}: {exc}")
        return tuple(refs)

    def slice(self, name: str, body: Any, line: int | None) -> SliceDef:
        where = f"slice {name!r}"
        if body is None:
            return SliceDef(name, line=line)
        if not isinstance(body, dict):
            self.problem("wrong-type", line, f"{where} is {yaml_kind(body)}, not a map")
            return SliceDef(name, line=line)
        for key in body:
            if key not in SLICE_KEYS:
                self.problem("unknown-key", key_line(body, key),
                             f"{where}: unknown key {key!r} (known: {', '.join(SLICE_KEYS)})")
        deps = self.deps(body, "deps", f"{where} deps")
        contents = body.get("contents")
        common: tuple[PathRule, ...] = ()
        extra: dict[str, tuple[PathRule, ...]] = {}
        if contents is None:
            return SliceDef(name, deps, line=line)
        if not isinstance(contents, dict):
            self.problem("wrong-type", key_line(body, "contents"),
                         f"{where}: contents is {yaml_kind(contents)}, not a map")
            return SliceDef(name, deps, line=line)
        stray = [key for key in contents if isinstance(key, str) and key.startswith("/")]
        if stray:
            # A forgotten "common:" level: splitter looks only under common/extra, so
            # these paths select nothing.
            self.problem("paths-outside-common", key_line(contents, stray[0]),
                         f"{where}: {len(stray)} path(s) directly under contents "
                         f"(first {stray[0]}); splitter ignores them: put them under "
                         "contents.common")
        for key in contents:
            if key not in CONTENTS_KEYS and key not in stray:
                self.problem("unknown-key", key_line(contents, key),
                             f"{where}: unknown contents key {key!r} "
                             f"(known: {', '.join(CONTENTS_KEYS)})")
        if "common" in contents:
            common = self.rules(contents, "common", f"{where} contents.common")
        raw_extra = contents.get("extra")
        if isinstance(raw_extra, dict):
            for platform in raw_extra:
                if platform not in PLATFORMS:
                    self.problem("unknown-key", key_line(raw_extra, platform),
                                 f"{where}: unknown platform {platform!r} in contents.extra "
                                 f"(known: {', '.join(PLATFORMS)})")
                    continue
                extra[platform] = self.rules(raw_extra, platform,
                                             f"{where} contents.extra.{platform}")
        elif raw_extra is not None:
            self.problem("wrong-type", key_line(contents, "extra"),
                         f"{where}: contents.extra is {yaml_kind(raw_extra)}, not a map")
        return SliceDef(name, deps, common, extra, line)

    def rules(self, parent: dict[str, Any], key: str, where: str) -> tuple[PathRule, ...]:
        raw = parent[key]
        line = key_line(parent, key)
        if raw is None:
            return ()
        if isinstance(raw, str):
            # splitter iterates the value: a string yields one pattern per character,
            # and a lone '*' among them selects every file of the package.
            star = " including '*', which selects every file" if "*" in raw else ""
            self.problem("wrong-type", line,
                         f"{where} is a string, not a map of paths: splitter reads it "
                         f"character by character{star}")
            return (PathRule(raw, line),)
        if isinstance(raw, list):
            self.problem("wrong-type", line,
                         f"{where} is a list, not a map of paths ('/path/glob:' per line)")
            return tuple(PathRule(item, item_line(raw, i) or line)
                         for i, item in enumerate(raw) if isinstance(item, str))
        if not isinstance(raw, dict):
            self.problem("wrong-type", line, f"{where} is {yaml_kind(raw)}, not a map of paths")
            return ()
        rules: list[PathRule] = []
        for pattern, options in raw.items():
            pline = key_line(raw, pattern)
            if not isinstance(pattern, str):
                self.problem("wrong-type", pline, f"{where}: path {pattern!r} is not a string")
                continue
            if options is not None:
                self.problem("path-options", pline,
                             f"{where}: {pattern} has options {_short(options)}; "
                             "the openEuler format takes none and splitter ignores them")
            rules.append(PathRule(pattern, pline))
        return tuple(rules)


def yaml_kind(value: Any) -> str:
    """How a message names the YAML type of ``value``: "a string", "a map", "empty"."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return f"a {type(value).__name__}"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {v}" if v is not None else str(k)
                               for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
