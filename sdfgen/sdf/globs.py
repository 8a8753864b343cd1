"""Path globs of SDFs under the two readings in use.

- splitter (openEuler's tool) matches with Python's ``fnmatch``: ``*`` and ``?`` also
  match ``/``, so ``/usr/lib64/*.so`` selects ``/usr/lib64/sub/dir/x.so`` too.
- chisel (and what reviewers usually assume): ``*`` and ``?`` stop at ``/``; ``**``
  crosses it.

A glob that sdfgen emits must select the same files under both readings; ``agrees``
tells whether it does for a given file list.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterable
from enum import StrEnum

_GLOB_CHAR = re.compile(r"[*?\[]")


class Reading(StrEnum):
    """How a glob is interpreted."""

    SPLITTER = "splitter"
    CHISEL = "chisel"


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` has glob characters (else it names one path literally)."""
    return _GLOB_CHAR.search(pattern) is not None


def literal_head(pattern: str) -> str:
    """The literal prefix of ``pattern`` (up to its first ``*``, ``?`` or ``[``): under
    both readings it selects only paths that start with it, so a sorted path list needs
    searching from there only."""
    found = _GLOB_CHAR.search(pattern)
    return pattern if found is None else pattern[:found.start()]


@functools.lru_cache(maxsize=4096)
def _splitter_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _chisel_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(pattern: str, path: str, reading: Reading = Reading.SPLITTER) -> bool:
    """Whether ``pattern`` selects ``path`` under ``reading``."""
    if not is_glob(pattern):
        return pattern == path
    regex = _splitter_regex(pattern) if reading is Reading.SPLITTER else _chisel_regex(pattern)
    return regex.match(path) is not None


def matcher(pattern: str, reading: Reading = Reading.SPLITTER) -> Callable[[str], bool]:
    """A predicate equal to ``matches(pattern, path, reading)``, compiled once.

    For matching many paths against one pattern: no per-call glob test or cache lookup.
    """
    if not is_glob(pattern):
        return pattern.__eq__
    regex = _splitter_regex(pattern) if reading is Reading.SPLITTER else _chisel_regex(pattern)
    match = regex.match
    return lambda path: match(path) is not None


def any_matcher(patterns: Iterable[str],
                reading: Reading = Reading.SPLITTER) -> Callable[[str], bool]:
    """A predicate: does any of ``patterns`` select the path under ``reading``?

    Literal patterns become one set lookup and the globs one alternation regex, so a
    path costs one lookup and one regex match however many patterns there are.
    """
    literal: set[str] = set()
    globs: list[str] = []
    for pattern in patterns:
        if is_glob(pattern):
            globs.append(pattern)
        else:
            literal.add(pattern)
    if not globs:
        return literal.__contains__
    compile_one = _splitter_regex if reading is Reading.SPLITTER else _chisel_regex
    # Each translated glob is anchored at its end (\Z) and match() anchors the start.
    regexes = [compile_one(g) for g in globs]
    try:
        match = re.compile("|".join(f"(?:{r.pattern})" for r in regexes), re.DOTALL).match
    except re.error:  # translations that cannot be joined (group names): one by one
        return lambda path: path in literal or any(r.match(path) for r in regexes)
    return lambda path: path in literal or match(path) is not None


def select(pattern: str, paths: Iterable[str],
           reading: Reading = Reading.SPLITTER) -> set[str]:
    """The paths ``pattern`` selects under ``reading``."""
    return {path for path in paths if matches(pattern, path, reading)}


def agrees(pattern: str, paths: Iterable[str]) -> bool:
    """Whether both readings select exactly the same subset of ``paths``."""
    paths = list(paths)
    return select(pattern, paths, Reading.SPLITTER) == select(pattern, paths, Reading.CHISEL)
