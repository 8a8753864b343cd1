"""Epoch-version-release parsing and rpm's version comparison.

``rpmvercmp`` is a line-by-line port of rpm's C ``rpmvercmp()`` (rpmio/rpmvercmp.c),
including the ``~`` (sorts before anything, even the end) and ``^`` (sorts after the
end, before anything else) separators, so "newest package" here means what dnf means.
"""

from __future__ import annotations

import functools

from sdfgen.errors import ConfigError
from sdfgen.facts import Evr

# rpm uses its own ASCII-only ctype helpers (risalpha, risdigit): a non-ASCII letter is a
# separator for rpm, so str.isalpha()/isdigit() (which accept Unicode) must not be used.
_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = _DIGITS | _ALPHA


def parse_evr(text: str) -> Evr:
    """Parse ``[E:]V[-R]`` (as in ``2:1.0-3.oe2403``) into an Evr; the epoch defaults to 0.

    The release is what follows the last ``-``; a missing release gives ``""``.
    Raises ConfigError when the epoch is not a number or the version is empty.
    """
    epoch = 0
    rest = text.strip()
    if ":" in rest:
        epoch_text, rest = rest.split(":", 1)
        if not epoch_text.isdigit() or not epoch_text.isascii():
            raise ConfigError(f"bad EVR {text!r}: epoch {epoch_text!r} is not a number")
        epoch = int(epoch_text)
    version, sep, release = rest.rpartition("-")
    if not sep:
        version, release = rest, ""
    if not version:
        raise ConfigError(f"bad EVR {text!r}: empty version")
    return Evr(epoch, version, release)


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings as rpm does: -1, 0 or 1."""
    if a == b:
        return 0
    one, two = 0, 0
    len_a, len_b = len(a), len(b)
    while one < len_a or two < len_b:
        # Skip separators: anything that is not alphanumeric, '~' or '^'.
        while one < len_a and a[one] not in _ALNUM and a[one] not in "~^":
            one += 1
        while two < len_b and b[two] not in _ALNUM and b[two] not in "~^":
            two += 1
        ch1 = a[one] if one < len_a else ""
        ch2 = b[two] if two < len_b else ""

        # '~' sorts before everything else, including the end of the string.
        if ch1 == "~" or ch2 == "~":
            if ch1 != "~":
                return 1
            if ch2 != "~":
                return -1
            one += 1
            two += 1
            continue

        # '^' sorts like '~' except that the end of the string (the base version) is lower.
        if ch1 == "^" or ch2 == "^":
            if not ch1:
                return -1
            if not ch2:
                return 1
            if ch1 != "^":
                return 1
            if ch2 != "^":
                return -1
            one += 1
            two += 1
            continue

        if not (ch1 and ch2):
            break

        # Take the longest run of digits (or of letters) on both sides.
        end1, end2 = one, two
        if ch1 in _DIGITS:
            while end1 < len_a and a[end1] in _DIGITS:
                end1 += 1
            while end2 < len_b and b[end2] in _DIGITS:
                end2 += 1
            isnum = True
        else:
            while end1 < len_a and a[end1] in _ALPHA:
                end1 += 1
            while end2 < len_b and b[end2] in _ALPHA:
                end2 += 1
            isnum = False

        # Segments of different types: numeric is newer than alpha.
        if two == end2:
            return 1 if isnum else -1

        seg1, seg2 = a[one:end1], b[two:end2]
        if isnum:
            # Compare by length after dropping leading zeros so long numbers cannot overflow.
            seg1 = seg1.lstrip("0")
            seg2 = seg2.lstrip("0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return 1 if seg1 > seg2 else -1
        one, two = end1, end2

    if one >= len_a and two >= len_b:
        return 0
    # Whichever string has characters left wins.
    return -1 if one >= len_a else 1


def compare_evr(a: Evr, b: Evr) -> int:
    """Compare two EVRs as rpm does (epoch, then version, then release): -1, 0 or 1."""
    if a.epoch != b.epoch:
        return 1 if a.epoch > b.epoch else -1
    rc = rpmvercmp(a.version, b.version)
    if rc:
        return rc
    return rpmvercmp(a.release, b.release)


evr_key = functools.cmp_to_key(compare_evr)
"""Sort key for EVRs in rpm order: ``max(evrs, key=evr_key)`` is the newest."""
