"""Bounded, deterministic fuzzing of the YAML loader on real SDFs and Distrofiles.

500 mutations (fixed seed) of the sample SDFs, the openEuler corpus and the sample
Distrofiles: byte edits, YAML punctuation, anchors and aliases, deep nesting, splices.
Every outcome must be a loaded document (and SDF model) or an SdfError of one line
naming the file; never another exception. The hostile mutations (alias chains, deep
nesting) must be refused by a limit, which is what bounds their time.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from sdfgen.sdf.document import parse_document
from sdfgen.sdf.limits import MAX_DEPTH, YamlLimitError
from sdfgen.sdf.model import SdfError, sdf_from_document

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus" / "openeuler-sdf"
SOURCES = sorted((ROOT / "samples" / "sdf").glob("*.yaml")) + sorted(CORPUS.glob("*.yaml")) \
    + sorted((ROOT / "samples" / "distrofiles").glob("*.yaml"))
CASES = 500
SEED = 12  # the number; change it only with the expected counts below

# Fragments that change a YAML document's structure rather than its words.
FRAGMENTS = ["&a ", "*a", "<<: *a", "[", "]", "{", "}", ": ", "- ", "\t", "'", '"', "\n  ",
             "? ", "|", ">-", "!!binary ", "!!python/object/apply:os.system ", "%YAML 1.2\n",
             "---\n", "...\n", "#", "\\", "\ufeff", "\x00", "\x85", "&b [*a, *a]", ",", "@",
             "`", "!", "%", "0o17", "~", "null", "2001-12-14", "\u2028", "\n---\n- x\n"]


def _mutate(rng: random.Random, text: str, other: str) -> tuple[str, str]:
    """One mutation of ``text`` and its kind; ``other`` is a second file for splices."""
    kind = rng.choice(["delete", "duplicate", "fragment", "fragments", "swap-lines",
                       "indent", "splice", "alias-chain", "deep", "truncate"])
    at = rng.randrange(len(text) + 1)
    if kind == "delete":
        text = text[:at] + text[at + rng.randrange(1, 40):]
    elif kind == "duplicate":
        text = text[:at] + text[at:at + rng.randrange(1, 200)] + text[at:]
    elif kind == "fragment":
        text = text[:at] + rng.choice(FRAGMENTS) + text[at:]
    elif kind == "fragments":
        for _ in range(rng.randrange(2, 8)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(FRAGMENTS) + text[at:]
    elif kind == "swap-lines":
        lines = text.splitlines(keepends=True)
        if len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        text = "".join(lines)
    elif kind == "indent":
        lines = text.splitlines(keepends=True)
        if lines:
            i = rng.randrange(len(lines))
            lines[i] = " " * rng.randrange(1, 5) + lines[i]
        text = "".join(lines)
    elif kind == "splice":
        cut = rng.randrange(len(other) + 1)
        text = text[:at] + other[cut:cut + rng.randrange(1, 400)] + text[at:]
    elif kind == "alias-chain":
        # A billion-laughs chain of random width and length appended as a new key.
        width, levels = rng.randrange(2, 10), rng.randrange(3, 12)
        chain = "zz0: &zz0 [" + ", ".join(["x"] * width) + "]\n" + "".join(
            f"zz{i}: &zz{i} [" + ", ".join([f"*zz{i - 1}"] * width) + "]\n"
            for i in range(1, levels))
        text = text.rstrip("\n") + "\n" + chain
    elif kind == "deep":
        depth = rng.randrange(MAX_DEPTH + 1, 400)
        text = text.rstrip("\n") + "\nzz: " + "[" * depth + "]" * depth + "\n"
    else:  # truncate
        text = text[:at]
    return text, kind


def _outcome(text: str, name: Path) -> str:
    """"loaded", "limit" or "invalid"; anything but an SdfError of one line fails."""
    try:
        sdf_from_document(parse_document(text, name))
    except YamlLimitError as exc:
        _one_line_naming(str(exc), name)
        return "limit"
    except SdfError as exc:
        _one_line_naming(str(exc), name)
        return "invalid"
    return "loaded"


def _one_line_naming(message: str, name: Path) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{name}:"), message


def test_sources_are_there() -> None:
    assert len(SOURCES) == 17 + 42 + 5


def test_mutated_yaml_loads_or_fails_with_one_line() -> None:
    rng = random.Random(SEED)
    texts = [path.read_text(encoding="utf-8") for path in SOURCES]
    outcomes: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str]] = Counter()
    for case in range(CASES):
        index = rng.randrange(len(texts))
        text, kind = _mutate(rng, texts[index], rng.choice(texts))
        name = Path(f"case{case}-{SOURCES[index].name}")
        outcome = _outcome(text, name)
        outcomes[outcome] += 1
        by_kind[kind, outcome] += 1
    assert sum(outcomes.values()) == CASES
    # Each outcome is common enough that the test exercises it; the exact split is
    # fixed by the seed.
    assert outcomes["loaded"] >= 100 and outcomes["invalid"] >= 50 and outcomes["limit"] >= 50
    # Deep nesting is always refused by the depth limit, never a RecursionError.
    assert by_kind["deep", "limit"] > 0
    assert by_kind["deep", "loaded"] == by_kind["deep", "invalid"] == 0
    # Alias chains that expand past the bound are refused; short ones load.
    assert by_kind["alias-chain", "limit"] > 0 and by_kind["alias-chain", "loaded"] > 0
