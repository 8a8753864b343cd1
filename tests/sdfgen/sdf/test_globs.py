"""The two readings of SDF globs (splitter's fnmatch, chisel's '*' within one directory)."""

from __future__ import annotations

import pytest

from sdfgen.sdf.globs import Reading, agrees, is_glob, literal_head, matches, select

PATHS = ["/usr/lib64/libssl.so.3", "/usr/lib64/sub/libssl.so.3", "/usr/lib64/libssl.so",
         "/etc/ld.so.conf", "/etc/ld.so.conf.d/libc.conf", "/usr/lib64/python3.11/a/b.py"]


@pytest.mark.parametrize(("pattern", "splitter", "chisel"), [
    ("/usr/lib64/*.so.3", {"/usr/lib64/libssl.so.3", "/usr/lib64/sub/libssl.so.3"},
     {"/usr/lib64/libssl.so.3"}),
    ("/etc/ld.so.conf*", {"/etc/ld.so.conf", "/etc/ld.so.conf.d/libc.conf"},
     {"/etc/ld.so.conf"}),
    ("/usr/lib64/python3.11/**", {"/usr/lib64/python3.11/a/b.py"},
     {"/usr/lib64/python3.11/a/b.py"}),
    ("/usr/lib64/libssl.so.[0-9]", {"/usr/lib64/libssl.so.3"}, {"/usr/lib64/libssl.so.3"}),
    ("/usr/lib64/libssl.so.[!3]", set(), set()),
    ("/usr/lib64/libssl.so", {"/usr/lib64/libssl.so"}, {"/usr/lib64/libssl.so"}),
])
def test_readings(pattern: str, splitter: set[str], chisel: set[str]) -> None:
    assert select(pattern, PATHS, Reading.SPLITTER) == splitter
    assert select(pattern, PATHS, Reading.CHISEL) == chisel
    assert agrees(pattern, PATHS) == (splitter == chisel)


def test_literal_and_trailing_slash() -> None:
    assert not is_glob("/usr/lib64/libssl.so.3") and is_glob("/x/*") and is_glob("/x/[ab]")
    # A trailing '/' never matches a payload path (they carry none): selects nothing.
    assert not matches("/etc/ld.so.conf.d/", "/etc/ld.so.conf.d")
    assert select("/etc/ld.so.conf.d/", PATHS) == set()


def test_question_mark_and_unclosed_bracket() -> None:
    assert matches("/a/?", "/a/b", Reading.CHISEL) and not matches("/a?b", "/a/b", Reading.CHISEL)
    assert matches("/a?b", "/a/b", Reading.SPLITTER)
    assert matches("/a/[x", "/a/[x", Reading.CHISEL)


@pytest.mark.parametrize(("pattern", "head"), [
    ("/usr/lib64/*.so.3", "/usr/lib64/"),
    ("/usr/lib64/libssl.so.[0-9]", "/usr/lib64/libssl.so."),
    ("/usr/share/x?y/**", "/usr/share/x"),
    ("/usr/lib64/libssl.so", "/usr/lib64/libssl.so"),
    ("*", ""),
])
def test_literal_head(pattern: str, head: str) -> None:
    """Every path a glob selects, under either reading, starts with its literal head."""
    assert literal_head(pattern) == head
    for reading in Reading:
        assert all(p.startswith(head) for p in select(pattern, PATHS, reading))
