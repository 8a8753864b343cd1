"""Tests for sdfgen.repo.evr: rpm's own rpmvercmp test vectors, checked against real rpm too."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sdfgen.errors import ConfigError
from sdfgen.facts import Evr
from sdfgen.repo.evr import compare_evr, evr_key, parse_evr, rpmvercmp

# The vectors of rpm's tests/rpmvercmp.at (a, b, expected).
RPM_VECTORS: list[tuple[str, str, int]] = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1), ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1),
    ("xyz.4", "2", -1), ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1), ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1), ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1), ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0), ("10.0001", "10.1", 0), ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1), ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1), ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("20101122", "20101121", 1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("2_0", "2.0", 0),
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("a_", "a+", 0),
    ("+a", "+a", 0), ("+a", "_a", 0), ("_a", "+a", 0),
    ("+_", "+_", 0), ("_+", "+_", 0), ("_+", "_", 0), ("+", "_", 0), ("_", "+", 0),
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0~rc1", "1.0~rc1~git123", 1),
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0), ("1.0^git1", "1.0", 1), ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1), ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1),
    ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1), ("1.0^20160101^git1", "1.0^20160102", -1),
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc1^git1", -1),
    ("1.0^git1~pre", "1.0^git1~pre", 0), ("1.0^git1", "1.0^git1~pre", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    # Non-ASCII letters are separators for rpm, not letters.
    ("1.1.\u03b1", "1.1.\u03b1", 0), ("1.1.\u03b1", "1.1.\u03b2", 0),
    ("1.1.\u03b2", "1.1.\u03b1", 0), ("1.1.\u03b1\u03b1", "1.1.\u03b1", 0),
    ("1.1.\u03b1", "1.1.\u03b2\u03b2", 0), ("1.1.\u03b2\u03b2", "1.1.\u03b1\u03b1", 0),
]

# Extra cases (long numbers, leading zeros, mixed) checked only against real rpm.
EXTRA_PAIRS = [
    ("1.0", "1.0a"), ("123456789012345678901234567890", "123456789012345678901234567891"),
    ("0001", "1"), ("1.oe2403", "1.oe2403sp1"), ("2.oe2403", "10.oe2203"), ("a1", "1a"),
    ("1..2", "1.2"), ("1.0~", "1.0"), ("1.0^~", "1.0"), ("1~", "1^"), ("1.0.", "1.0"),
    ("1.0_rc", "1.0rc"), ("abc", "abd"), ("1.0a1", "1.0a"),
]


@pytest.mark.parametrize(("a", "b", "expected"), RPM_VECTORS)
def test_rpmvercmp_matches_rpm_test_vectors(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected


def test_rpmvercmp_agrees_with_the_real_rpm() -> None:
    rpm = shutil.which("rpm")
    assert rpm, "rpm must be installed (apt-get install rpm) for this cross-check"
    pairs = [(a, b) for a, b, _ in RPM_VECTORS] + EXTRA_PAIRS
    script = "".join(
        f"print(rpm.vercmp({_lua(a)}, {_lua(b)}), '\\n')" for a, b in pairs
    )
    out = subprocess.run(
        [rpm, "--eval", "%{lua:" + script + "}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(out) == len(pairs)
    mismatches = [(a, b, int(r), rpmvercmp(a, b)) for (a, b), r in zip(pairs, out, strict=True)
                  if int(r) != rpmvercmp(a, b)]
    assert mismatches == []


def _lua(text: str) -> str:
    """A Lua string literal for ``text`` (byte escapes so UTF-8 survives unchanged)."""
    return '"' + "".join(f"\\{byte}" for byte in text.encode()) + '"'


@pytest.mark.parametrize(
    ("text", "evr"),
    [
        ("1.0-1", Evr(0, "1.0", "1")),
        ("2:1.0-3.oe2403", Evr(2, "1.0", "3.oe2403")),
        ("1.0", Evr(0, "1.0", "")),
        ("0:1.2-rc-4", Evr(0, "1.2-rc", "4")),
        (" 3:4 ", Evr(3, "4", "")),
    ],
)
def test_parse_evr(text: str, evr: Evr) -> None:
    assert parse_evr(text) == evr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x:1.0-1", "bad EVR 'x:1.0-1': epoch 'x' is not a number"),
        (":1.0", "bad EVR ':1.0': epoch '' is not a number"),
        ("1:-2", "bad EVR '1:-2': empty version"),
        ("", "bad EVR '': empty version"),
    ],
)
def test_parse_evr_rejects_bad_input_with_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_evr(text)
    assert str(excinfo.value) == message


def test_compare_evr_epoch_wins_then_version_then_release() -> None:
    assert compare_evr(parse_evr("1:1.0-1"), parse_evr("9.9-9")) == 1
    assert compare_evr(parse_evr("1.10-1"), parse_evr("1.9-5")) == 1
    assert compare_evr(parse_evr("1.0-2.oe2403"), parse_evr("1.0-10.oe2403")) == -1
    assert compare_evr(parse_evr("1.0~rc1-1"), parse_evr("1.0-1")) == -1
    assert compare_evr(parse_evr("0:1.0-1"), parse_evr("1.0-1")) == 0


def test_evr_key_picks_newest() -> None:
    evrs = [parse_evr(t) for t in ("1.9-1", "1.10-1", "1.10~beta-7", "1.10-1^p1")]
    assert max(evrs, key=evr_key) == parse_evr("1.10-1^p1")
    assert sorted(evrs, key=evr_key)[0] == parse_evr("1.9-1")
