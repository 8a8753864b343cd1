"""PathIndex: a glob tried against the paths below its literal head only selects what a
scan of every path selects, under both readings."""

from __future__ import annotations

import pytest

from sdfgen.sdf.globs import Reading, select
from sdfgen.slicing.placement import PathIndex

PATHS = [
    "/usr/share/zoneinfo/Europe/Paris", "/usr/share/zoneinfo/Europe/Berlin",
    "/usr/share/zoneinfo/Etc/UTC", "/usr/share/zoneinfo-extra/x",
    "/usr/share/zoneinfo", "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/usr/share/x/[a].txt", "/usr/share/x/a",
    "/usr/share/x/[b", "/", "/usr/share/\udcff-raw",
]


@pytest.mark.parametrize("pattern", [
    "/usr/share/zoneinfo/**", "/usr/share/zoneinfo*", "/usr/share/zoneinfo/E*/P*",
    "/usr/lib/*-linux-gnu/libz.so.*", "/usr/share/x/?a?.txt", "/usr/share/x/[a].txt",
    "/usr/share/x/[b", "/usr/share/x/[!a]*", "*", "/usr/share/zoneinfo", "/nothing/*",
    "/usr/share/?-raw", "/usr/share/*raw",
])
def test_select_equals_full_scan(pattern: str) -> None:
    selected, agree = PathIndex(PATHS).select(pattern)
    splitter = select(pattern, PATHS, Reading.SPLITTER)
    assert selected == splitter
    assert agree == (splitter == select(pattern, PATHS, Reading.CHISEL))


def test_under_is_exact() -> None:
    index = PathIndex(PATHS)
    assert list(index.under("/usr/share/zoneinfo/")) == sorted(
        p for p in PATHS if p.startswith("/usr/share/zoneinfo/"))
    assert list(index.under("/usr/share/zoneinfo")) == sorted(
        p for p in PATHS if p.startswith("/usr/share/zoneinfo"))
    assert list(index.under("/zzz")) == []
