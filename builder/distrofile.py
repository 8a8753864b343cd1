"""Read and validate a Distrofile: what image to build from which slices.

The openEuler format (splitter's ``distrofile``) has ``name``, ``summary``, ``base``
(only ``scratch``), ``release``, ``platforms`` (a list such as ``linux/amd64``) and
``parts`` (a list of ``{package}_{slice}`` references). The builder also reads the
image runtime keys ``entrypoint``, ``cmd``, ``env``, ``workdir``, ``user``, ``labels``
and two builder-only keys that splitter ignores:

- ``files``: files that are not in any RPM (an application built elsewhere), each
  ``{src: PATH, dest: /ABS/PATH, mode: "0755"}``; ``src`` is relative to the
  Distrofile's directory and may contain ``{arch}`` (x86_64 / aarch64).
- ``smoke``: checks ``builder smoke`` runs, a list of ``{command: [...],
  expect_exit: 0, expect_output: REGEX, timeout: SECONDS}``; an empty ``command``
  means the image's entrypoint + cmd.

Every problem is a ConfigError whose one-line message names the file, line and key.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import BuildError
from builder.platform import Platform, parse_platform
from sdfgen.errors import ConfigError
from sdfgen.sdf.document import item_line, key_line, load_document, node_line
from sdfgen.sdf.model import SdfError, SliceRef, parse_slice_ref, yaml_kind

REQUIRED_KEYS = ("name", "base", "platforms", "parts")
OPTIONAL_KEYS = ("summary", "release", "entrypoint", "cmd", "env", "workdir", "user",
                 "labels", "files", "smoke")
FILE_KEYS = ("src", "dest", "mode", "uid", "gid")
SMOKE_KEYS = ("command", "expect_exit", "expect_output", "timeout")
# One path component of a docker/OCI image name (distribution/reference's grammar); the
# whole name may be 255 characters, 128 keeps ``NAME-aarch64.tar`` a short file name.
_IMAGE_NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
MAX_NAME_LENGTH = 128


@dataclass(frozen=True)
class ExtraFile:
    """A builder-only file: ``src`` (may contain ``{arch}``) copied to ``dest`` in the image."""

    src: str
    dest: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0

    def source_for(self, base_dir: Path, machine: str) -> Path:
        """The host path of ``src`` for one architecture (x86_64 / aarch64)."""
        return base_dir / self.src.replace("{arch}", machine)


@dataclass(frozen=True)
class SmokeCheck:
    """One smoke check: a command (empty: the image's own) and what it must produce."""

    command: tuple[str, ...] = ()
    expect_exit: int = 0
    expect_output: str | None = None
    timeout: float = 120.0

    def to_json(self) -> dict[str, Any]:
        """The check as JSON (recorded in the output directory by the build)."""
        return {"command": list(self.command), "expect_exit": self.expect_exit,
                "expect_output": self.expect_output, "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SmokeCheck:
        """The inverse of :meth:`to_json`."""
        return cls(tuple(data.get("command") or ()), int(data.get("expect_exit", 0)),
                   data.get("expect_output"), float(data.get("timeout", 120.0)))


@dataclass(frozen=True)
class Distrofile:
    """A validated Distrofile."""

    path: Path
    name: str
    platforms: tuple[Platform, ...]
    parts: tuple[SliceRef, ...]
    summary: str = ""
    base: str = "scratch"
    release: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = "/"
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    files: tuple[ExtraFile, ...] = ()
    smoke: tuple[SmokeCheck, ...] = ()

    @property
    def base_dir(self) -> Path:
        """The directory relative ``files`` sources are read from."""
        return self.path.parent


class _Reader:
    """Validation helpers that name the file and line in every message."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, line: int | None, message: str) -> ConfigError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {message}")

    def line(self, key: str) -> int | None:
        return key_line(self.data, key)

    def string(self, key: str, default: str = "") -> str:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(self.line(key), f"{key!r} must be a string, not {yaml_kind(value)}")
        return str(value)

    def string_list(self, key: str, value: Any, line: int | None) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            raise self.fail(line, f"{key!r} must be a list, not a string "
                            f"(write '{key}: [{value}]' or one '- {value}' per line)")
        if not isinstance(value, list):
            raise self.fail(line, f"{key!r} must be a list, not {yaml_kind(value)}")
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise self.fail(item_line(value, index) or line,
                                f"{key!r} entry {index + 1} must be a string, "
                                f"not {yaml_kind(item)}")
            items.append(str(item))
        return tuple(items)


def load_distrofile(path: Path) -> Distrofile:
    """Read and validate the Distrofile at ``path``; raise ConfigError naming file and key."""
    path = Path(path)
    try:
        doc = load_document(path, editable=False)
    except SdfError as exc:
        raise ConfigError(str(exc)) from exc
    data = doc.data
    if doc.duplicates:
        # PyYAML (openEuler's splitter) keeps the last of two equal keys, ruamel the first:
        # the same file would build a different image; refuse it instead of picking one.
        duplicate = doc.duplicates[0]
        raise ConfigError(f"{path}:{duplicate.line}: key {duplicate.key!r} repeats line "
                          f"{duplicate.first_line}; YAML readers disagree on which one counts")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a Distrofile is a map of keys, not {yaml_kind(data)}")
    reader = _Reader(path, data)
    for key in data:
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            raise reader.fail(key_line(data, key), f"unknown key {key!r} (known: "
                              f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise reader.fail(None, f"missing key {key!r}")
    name = _image_name(reader)
    base = reader.string("base")
    if base != "scratch":
        raise reader.fail(reader.line("base"), f"'base' {base!r} is not supported; "
                          "only 'scratch'")
    platforms = _platforms(reader)
    parts = _parts(reader)
    env = reader.string_list("env", data.get("env"), reader.line("env"))
    for item in env:
        if "=" not in item:
            raise reader.fail(reader.line("env"), f"'env' entry {item!r} is not NAME=VALUE")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        raise reader.fail(reader.line("labels"), f"'labels' must be a map, not {yaml_kind(labels)}")
    workdir = reader.string("workdir", "/")
    if not workdir.startswith("/"):
        raise reader.fail(reader.line("workdir"), f"'workdir' {workdir!r} is not absolute")
    return Distrofile(
        path=path, name=name, platforms=platforms, parts=parts,
        summary=reader.string("summary"), base=base, release=reader.string("release"),
        entrypoint=reader.string_list("entrypoint", data.get("entrypoint"),
                                      reader.line("entrypoint")),
        cmd=reader.string_list("cmd", data.get("cmd"), reader.line("cmd")),
        env=env, workdir=workdir, user=reader.string("user"),
        labels={str(k): str(v) for k, v in labels.items()},
        files=_files(reader), smoke=_smoke(reader),
    )


def _image_name(reader: _Reader) -> str:
    """The ``name``, checked against the OCI/docker rules for one path component of an
    image name: it goes into the tags (``localhost/sdfgen/NAME:latest-ARCH``) and the
    file name ``NAME-ARCH.tar``."""
    name = reader.string("name")
    if len(name) > MAX_NAME_LENGTH:
        raise reader.fail(reader.line("name"), f"'name' is {len(name)} characters long; an "
                          f"image name here has at most {MAX_NAME_LENGTH}")
    if not _IMAGE_NAME.fullmatch(name):
        raise reader.fail(reader.line("name"), f"'name' {name!r} is not a usable image name "
                          "(lower-case letters and digits, separated by '.', '_', '__' or "
                          "'-'; no '/')")
    return name


def _platforms(reader: _Reader) -> tuple[Platform, ...]:
    line = reader.line("platforms")
    names = reader.string_list("platforms", reader.data["platforms"], line)
    if not names:
        raise reader.fail(line, "'platforms' is empty")
    platforms = []
    for index, text in enumerate(names):
        try:
            platform = parse_platform(text)
        except BuildError as exc:
            raise reader.fail(item_line(reader.data["platforms"], index) or line,
                              f"'platforms': {exc}") from exc
        if platform in platforms:
            raise reader.fail(line, f"'platforms': {text} is listed twice")
        platforms.append(platform)
    return tuple(platforms)


def _parts(reader: _Reader) -> tuple[SliceRef, ...]:
    raw = reader.data["parts"]
    line = reader.line("parts")
    names = reader.string_list("parts", raw, line)
    if not names:
        raise reader.fail(line, "'parts' is empty")
    parts = []
    for index, text in enumerate(names):
        item = item_line(raw, index) or line
        try:
            parts.append(parse_slice_ref(text, item))
        except SdfError as exc:
            raise reader.fail(item, f"'parts': {exc}") from exc
    return tuple(parts)


def _files(reader: _Reader) -> tuple[ExtraFile, ...]:
    raw = reader.data.get("files")
    line = reader.line("files")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail(line, f"'files' must be a list of {{src, dest, mode}}, "
                          f"not {yaml_kind(raw)}")
    files = []
    for index, item in enumerate(raw):
        where = item_line(raw, index) or node_line(item) or line
        if not isinstance(item, dict):
            raise reader.fail(where, f"'files' entry {index + 1} must be a map, "
                              f"not {yaml_kind(item)}")
        for key in item:
            if key not in FILE_KEYS:
                raise reader.fail(where, f"'files' entry {index + 1}: unknown key {key!r} "
                                  f"(known: {', '.join(FILE_KEYS)})")
        src, dest = item.get("src"), item.get("dest")
        if not isinstance(src, str) or not src:
            raise reader.fail(where, f"'files' entry {index + 1}: 'src' is missing")
        if not isinstance(dest, str) or not dest.startswith("/") or \
                posixpath.normpath(dest) != dest or dest == "/":
            raise reader.fail(where, f"'files' entry {index + 1}: 'dest' {dest!r} must be an "
                              "absolute, normalized file path")
        mode = item.get("mode", "0644")
        if not isinstance(mode, str) or not mode or any(c not in "01234567" for c in mode) \
                or int(mode, 8) > 0o7777:
            raise reader.fail(where, f"'files' entry {index + 1}: 'mode' must be an octal "
                              f"string such as \"0755\" (YAML reads 0755 as decimal), "
                              f"not {mode!r}")
        ids = []
        for key in ("uid", "gid"):
            value = item.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise reader.fail(where, f"'files' entry {index + 1}: {key!r} must be a "
                                  "number >= 0")
            ids.append(int(value))
        files.append(ExtraFile(src, dest, int(mode, 8), ids[0], ids[1]))
    return tuple(files)


def _smoke(reader: _Reader) -> tuple[SmokeCheck, ...]:
    raw = reader.data.get("smoke")
    line = reader.line("smoke")
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise reader.fail(line, f"'smoke' must be a list of checks, not {yaml_kind(raw)}")
    checks = []
    for index, item in enumerate(raw):
        where = item_line(raw, index) or line
        if not isinstance(item, dict):
            raise reader.fail(where, f"'smoke' check {index + 1} must be a map, "
                              f"not {yaml_kind(item)}")
        for key in item:
            if key not in SMOKE_KEYS:
                raise reader.fail(where, f"'smoke' check {index + 1}: unknown key {key!r} "
                                  f"(known: {', '.join(SMOKE_KEYS)})")
        command = reader.string_list("smoke command", item.get("command"), where)
        expect_exit = item.get("expect_exit", 0)
        if not isinstance(expect_exit, int) or isinstance(expect_exit, bool):
            raise reader.fail(where, f"'smoke' check {index + 1}: 'expect_exit' must be a number")
        expect_output = item.get("expect_output")
        if expect_output is not None and not isinstance(expect_output, str):
            raise reader.fail(where, f"'smoke' check {index + 1}: 'expect_output' must be a "
                              "regular expression string")
        timeout = item.get("timeout", 120)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise reader.fail(where, f"'smoke' check {index + 1}: 'timeout' must be seconds > 0")
        checks.append(SmokeCheck(command, int(expect_exit), expect_output, float(timeout)))
    return tuple(checks)
