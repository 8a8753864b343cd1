"""Reading the slice-definition corpus: which file of a package a human put in which slice.

The corpus lives outside the project (``../shared/corpus`` relative to the project root by
default) and is only ever read from the directory the caller names. Its
``chisel-labels.jsonl.gz`` holds one JSON object per package::

    {"package": "libssl3", "branch": "ubuntu-24.04", "dist": "bookworm",
     "hit_rate": 1.0, "files": [["/usr/lib/x86_64-linux-gnu/libssl.so.3", "libs"], ...]}

where the second element of each file is the slice name (free text) or null (left out).
This module turns that into frozen dataclasses and fails with a one-line
:class:`CorpusError` naming the file and line on anything malformed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from sdfgen.errors import SdfgenError

LABELS_FILE = "chisel-labels.jsonl.gz"
CHISEL_SDF_DIR = "chisel-sdf"
OPENEULER_SDF_DIR = "openeuler-sdf"


class CorpusError(SdfgenError):
    """The corpus directory or its label file is missing or malformed."""


@dataclass(frozen=True)
class LabeledFile:
    """One file of a corpus package and the slice a human put it in (None: left out)."""

    path: str
    slice_name: str | None


@dataclass(frozen=True)
class CorpusPackage:
    """One package of the corpus with every one of its labeled files."""

    package: str
    branch: str
    dist: str
    hit_rate: float
    files: tuple[LabeledFile, ...]


def default_corpus_dir(project_root: Path) -> Path:
    """The corpus directory used when none is given: ``<project_root>/../shared/corpus``."""
    return (project_root / ".." / "shared" / "corpus").resolve()


def labels_path(corpus_dir: Path) -> Path:
    """The label file of ``corpus_dir``; raises CorpusError if it is not there."""
    path = Path(corpus_dir) / LABELS_FILE
    if not path.is_file():
        raise CorpusError(f"{path}: corpus label file not found (give the corpus directory)")
    return path


def labels_digest(corpus_dir: Path) -> str:
    """SHA-256 (hex) of the corpus label file, recorded in the model metadata."""
    digest = hashlib.sha256()
    with labels_path(corpus_dir).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_labels(corpus_dir: Path) -> tuple[CorpusPackage, ...]:
    """Every package of the corpus label file, in file order."""
    path = labels_path(corpus_dir)
    packages: list[CorpusPackage] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    packages.append(_parse_line(line, f"{path}:{number}"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read corpus label file: {exc}") from exc
    if not packages:
        raise CorpusError(f"{path}: corpus label file holds no packages")
    return tuple(packages)


def _parse_line(line: str, where: str) -> CorpusPackage:
    """One JSON line -> CorpusPackage; ``where`` (file:line) names it in errors."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object per line")
    package = record.get("package")
    files = record.get("files")
    if not isinstance(package, str) or not package:
        raise CorpusError(f"{where}: missing or empty 'package'")
    if not isinstance(files, list):
        raise CorpusError(f"{where}: package {package}: 'files' is not a list")
    labeled: list[LabeledFile] = []
    for entry in files:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not entry[0].startswith("/")
            or not (entry[1] is None or isinstance(entry[1], str))
        ):
            raise CorpusError(
                f"{where}: package {package}: bad file entry {entry!r} "
                "(expected [absolute path, slice name or null])"
            )
        labeled.append(LabeledFile(entry[0], entry[1]))
    hit_rate = record.get("hit_rate", 1.0)
    return CorpusPackage(
        package=package,
        branch=str(record.get("branch", "")),
        dist=str(record.get("dist", "")),
        hit_rate=float(hit_rate) if isinstance(hit_rate, int | float) else 1.0,
        files=tuple(labeled),
    )


def write_labels(path: Path, packages: tuple[CorpusPackage, ...] | list[CorpusPackage]) -> None:
    """Write ``packages`` in the corpus label format (used to build small test corpora)."""
    lines = []
    for package in packages:
        record = {
            "package": package.package,
            "branch": package.branch,
            "dist": package.dist,
            "hit_rate": package.hit_rate,
            "files": [[item.path, item.slice_name] for item in package.files],
        }
        lines.append(json.dumps(record, sort_keys=True))
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
