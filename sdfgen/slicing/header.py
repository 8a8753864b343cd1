"""The comment header of a proposed SDF: which build it is for, and that build's file list.

``sdfgen propose`` writes, before ``package:``, one ``# ARCH: NEVRA`` line per arch and a
compact fingerprint of each arch's file list: per directory, 7 base64url characters,
24 bits of a digest of its path and 18 of the names in it (``# file lists for
--update``; python3's 59 directories take six lines). Arch
triplets (``x86_64-linux-gnu``) are read as ``*-linux-gnu`` first, so the two arches
usually share one block.

``--update`` counts a file as *new* when the version the SDF was written for did not
have it. It reads that version's file list from the repositories when they still hold
it; otherwise the fingerprint says which directories are new (all their files are new)
and which kept exactly the same files (none is new); a directory whose listing changed
cannot say which of its files are new, and is reported for review instead.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_NEVRA_LINE = re.compile(r"^# ([a-z0-9_]+): (\S+)$")
_DIGEST_HEAD = re.compile(r"^# file lists for --update \(directory digests\), "
                          r"([a-z0-9_ ]+):$")
_DIGEST_LINE = re.compile(r"^#   ((?:[A-Za-z0-9_-]{7} ?)+)$")
_TRIPLET = re.compile(r"\b(?:x86_64|aarch64)-linux-gnu\b")
_PER_LINE = 10


@dataclass(frozen=True)
class Header:
    """What a header records: NEVRA per arch, and per arch the directory digests."""

    nevras: dict[str, str] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # arch -> dir -> listing

    def evr(self, arch: str) -> str | None:
        """The EVR part of ``arch``'s NEVRA (``1:1.2.13-1.oe2403``), or None."""
        nevra = self.nevras.get(arch)
        if nevra is None:
            return None
        stem = nevra.rsplit(".", 1)[0]  # drop .arch
        parts = stem.rsplit("-", 2)
        return "-".join(parts[1:]) if len(parts) == 3 else stem


def _normal(path: str) -> str:
    return _TRIPLET.sub("*-linux-gnu", path)


def _digest(text: str, chars: int) -> str:
    raw = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
    return base64.urlsafe_b64encode(raw).decode("ascii")[:chars]


def dir_digests(paths: Iterable[str]) -> dict[str, str]:
    """Directory key -> listing digest for the (non-directory) ``paths`` of one arch."""
    listing: dict[str, list[str]] = {}
    for path in paths:
        directory, name = posixpath.split(_normal(path))
        listing.setdefault(directory, []).append(name)
    return {_digest(directory, 4): _digest("\n".join(sorted(names)), 3)
            for directory, names in listing.items()}


def dir_key(path: str) -> str:
    """The key :func:`dir_digests` gives ``path``'s directory."""
    return _digest(posixpath.dirname(_normal(path)), 4)


def header_lines(nevras: Iterable[tuple[str, str]],
                 files: Mapping[str, Iterable[str]]) -> list[str]:
    """The NEVRA lines and the file-list fingerprint (arches sharing one written once)."""
    out = [f"# {arch}: {nevra}" for arch, nevra in nevras]
    tokens = {arch: {f"{key}{value}" for key, value in dir_digests(paths).items()}
              for arch, paths in files.items()}
    if not tokens:
        return out
    # What every arch shares is written once; each arch's own directories after it.
    shared = set.intersection(*tokens.values()) if len(tokens) > 1 else set()
    blocks = [(tuple(tokens), shared)] if shared else []
    blocks += [((arch,), own - shared) for arch, own in tokens.items() if own - shared]
    for arches, block in blocks:
        ordered = sorted(block)
        out.append(f"# file lists for --update (directory digests), {' '.join(arches)}:")
        for start in range(0, len(ordered), _PER_LINE):
            out.append("#   " + " ".join(ordered[start:start + _PER_LINE]))
    return out


def leading_comments(text: str) -> list[str]:
    """The comment (and blank) lines before the first YAML line of ``text``."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            out.append(line)
        else:
            break
    return out


def parse_header(text: str) -> Header:
    """The :class:`Header` in ``text``'s leading comments (empty when it has none)."""
    nevras: dict[str, str] = {}
    digests: dict[str, dict[str, str]] = {}
    current: list[str] = []
    for line in leading_comments(text):
        if (match := _NEVRA_LINE.match(line)) and match.group(2).endswith(
                (f".{match.group(1)}", ".noarch")):
            nevras.setdefault(match.group(1), match.group(2))
            current = []
        elif match := _DIGEST_HEAD.match(line):
            current = match.group(1).split()
            for arch in current:
                digests[arch] = {}
        elif current and (match := _DIGEST_LINE.match(line)):
            for token in match.group(1).split():
                key, value = token[:4], token[4:]
                for arch in current:
                    # A key twice (two directories, one digest): neither can be trusted.
                    digests[arch][key] = "?" if key in digests[arch] else value
        else:
            current = []
    return Header(nevras, digests)


def is_header_line(line: str) -> bool:
    """Whether ``line`` is one :func:`header_lines` writes (replaced on refresh)."""
    match = _NEVRA_LINE.match(line)
    if match and match.group(2).endswith((f".{match.group(1)}", ".noarch")):
        return True
    return bool(_DIGEST_HEAD.match(line) or _DIGEST_LINE.match(line))


UPDATE_INTRO = "# The builds this SDF is for (sdfgen propose --update keeps this up to date):"


def refresh_header(text: str, lines: list[str]) -> str:
    """``text`` with its header lines replaced by ``lines`` (where the first of them was;
    at the very top, after an introducing line, when the file has none)."""
    body = text.splitlines(keepends=True)
    head = len(leading_comments(text))
    positions = [i for i in range(head) if is_header_line(body[i].rstrip("\n"))]
    new = [line + "\n" for line in lines]
    if not positions:
        return "".join([UPDATE_INTRO + "\n", *new, *body])
    first = positions[0]
    kept = [line for i, line in enumerate(body) if i not in set(positions)]
    return "".join(kept[:first] + new + kept[first:])
