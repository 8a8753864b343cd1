"""The model of openEuler splitter's cut against hand-made SDFs and file lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdfgen.sdf.document import parse_document
from sdfgen.sdf.model import Sdf, SliceRef, sdf_from_document
from sdfgen.sdf.splitter import builder_cut, closure, compare, splitter_cut

FILES = {
    "x86_64": {"demo": ["/usr/lib/x86_64-linux-gnu/libdemo.so.1", "/usr/bin/demo",
                        "/usr/lib/x86_64-linux-gnu/only-x86.so",
                        "/usr/share/licenses/demo/COPYING"]},
    "aarch64": {"demo": ["/usr/lib/aarch64-linux-gnu/libdemo.so.1", "/usr/bin/demo",
                         "/usr/share/licenses/demo/COPYING"]},
}


def _sdfs(text: str) -> dict[str, Sdf]:
    sdf = sdf_from_document(parse_document(text, Path("demo.yaml")))
    assert not sdf.schema_problems, sdf.schema_problems
    return {sdf.package: sdf}


def _cuts(text: str, part: str, arch: str) -> tuple[set[str], set[str], bool]:
    sdfs = _sdfs(text)
    parts = [SliceRef("demo", part)]
    ours = splitter_cut(sdfs, parts, FILES[arch])
    theirs = builder_cut(sdfs, parts, arch, FILES[arch])
    return (set(ours.files.get("demo", ())), set(theirs.files.get("demo", ())),
            "demo" in ours.whole)


SAFE = """\
package: demo
deps:
  - demo_copyright
slices:
  libs:
    deps:
      - demo_copyright
    contents:
      common:
        /usr/lib/*-linux-gnu/libdemo.so.*:
      extra:
        linux-x86_64:
          /usr/lib/x86_64-linux-gnu/only-x86.so:
          /usr/lib/*-linux-gnu/libdemo.so.*:
  copyright:
    contents:
      common:
        /usr/share/licenses/demo/*:
"""
NO_COPYRIGHT_DEP = SAFE.replace("    deps:\n      - demo_copyright\n", "", 1)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_a_splitter_safe_sdf_cuts_the_same_files(arch: str) -> None:
    splitter, builder, whole = _cuts(SAFE, "libs", arch)
    assert splitter == builder
    assert not whole
    assert "/usr/share/licenses/demo/COPYING" in splitter
    assert ("/usr/lib/x86_64-linux-gnu/only-x86.so" in splitter) == (arch == "x86_64")


def test_top_level_deps_are_not_cut_by_splitter() -> None:
    text = NO_COPYRIGHT_DEP
    splitter, builder, _ = _cuts(text, "libs", "x86_64")
    assert builder - splitter == {"/usr/share/licenses/demo/COPYING"}
    sdfs = _sdfs(text)
    assert SliceRef("demo", "copyright") not in closure(sdfs, [SliceRef("demo", "libs")],
                                                        top_level=False)
    assert SliceRef("demo", "copyright") in closure(sdfs, [SliceRef("demo", "libs")],
                                                    top_level=True)


def test_an_arch_block_that_selects_nothing_elsewhere_cuts_the_whole_package() -> None:
    text = SAFE.replace("          /usr/lib/*-linux-gnu/libdemo.so.*:\n  copyright", "  copyright")
    splitter, builder, whole = _cuts(text, "libs", "aarch64")
    assert whole
    assert splitter == set(FILES["aarch64"]["demo"])
    assert splitter - builder == {"/usr/bin/demo"}
    splitter, builder, whole = _cuts(text, "libs", "x86_64")
    assert not whole and splitter == builder


def test_a_slice_only_under_extra_is_skipped() -> None:
    text = NO_COPYRIGHT_DEP.replace(
        "      common:\n        /usr/lib/*-linux-gnu/libdemo.so.*:\n", "", 1)
    splitter, builder, _ = _cuts(text, "libs", "x86_64")
    assert splitter == set()
    assert "/usr/lib/x86_64-linux-gnu/only-x86.so" in builder
    # A sibling slice with common patterns in the same cut brings the extras along.
    sdfs = _sdfs(text)
    both = [SliceRef("demo", "libs"), SliceRef("demo", "copyright")]
    assert "/usr/lib/x86_64-linux-gnu/only-x86.so" in splitter_cut(
        sdfs, both, FILES["x86_64"]).files["demo"]


def test_common_patterns_that_select_nothing_cut_the_whole_package() -> None:
    text = NO_COPYRIGHT_DEP.replace("/usr/lib/*-linux-gnu/libdemo.so.*:\n      extra",
                                    "/usr/lib64/libdemo.so.*:\n      extra")
    sdfs = _sdfs(text)
    cut = splitter_cut(sdfs, [SliceRef("demo", "libs")], FILES["aarch64"])
    assert cut.whole == {"demo"}
    differences = compare(cut, builder_cut(sdfs, [SliceRef("demo", "libs")], "aarch64",
                                           FILES["aarch64"]))
    assert [d.package for d in differences] == ["demo"] and differences[0].whole
