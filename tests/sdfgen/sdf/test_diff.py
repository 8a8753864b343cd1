"""``sdfgen diff``: model-level changes, and per-arch selections against the sample repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdfgen.cli.app import app, main
from sdfgen.cli.sdf import register
from sdfgen.sdf.diff import diff_sdfs, render_diff
from sdfgen.sdf.model import load_sdf

OLD = """\
package: zlib
deps:
  - zlib_copyright
slices:
  libs:
    deps:
      - glibc_libs
    contents:
      common:
        /lib/*-linux-gnu/libz.so.1:
  license:
    contents:
      common:
        /usr/share/licenses/zlib/zlib1g.copyright:
  extras:
    contents:
      common:
        /usr/share/zlib/none:
"""

NEW = """\
package: zlib
# a comment that changes nothing
deps:
  - zlib_copyright
  - glibc_copyright
slices:
  libs:
    deps:
      - libgcc_libs
    contents:
      common:
        /lib/*-linux-gnu/libz.so.1*:
      extra:
        linux-x86_64:
          /lib/x86_64-linux-gnu/libz.so.1.2.13:
  copyright:
    contents:
      common:
        /usr/share/licenses/zlib/zlib1g.copyright:
  bins:
    contents:
      common:
        /usr/bin/zz:
"""


def _cli(*argv: str) -> int:
    if not any(getattr(c.callback, "__name__", "") == "diff" for c in app.registered_commands):
        register(app)
    return main(list(argv))


def _files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(OLD)
    new.write_text(NEW)
    return old, new


def test_model_diff(tmp_path: Path) -> None:
    old, new = _files(tmp_path)
    result = diff_sdfs(load_sdf(old), load_sdf(new))
    assert result.renamed == (("license", "copyright"),)
    assert result.slices_added == ("bins",)
    assert result.slices_removed == ("extras",)
    assert result.top_deps_added == ("glibc_copyright",) and result.top_deps_removed == ()
    [libs] = result.changed
    assert libs.deps_added == ("libgcc_libs",) and libs.deps_removed == ("glibc_libs",)
    assert libs.rules_added == (("common", "/lib/*-linux-gnu/libz.so.1*"),
                                ("linux-x86_64", "/lib/x86_64-linux-gnu/libz.so.1.2.13"))
    assert libs.rules_removed == (("common", "/lib/*-linux-gnu/libz.so.1"),)
    assert render_diff(result)[:4] == ["+ top-level dep glibc_copyright", "+ slice bins",
                                       "- slice extras",
                                       "~ slice license renamed to copyright (same paths)"]


def test_same_meaning_is_no_change(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(OLD)
    other = tmp_path / "b.yaml"
    other.write_text("# reformatted\n" + OLD.replace("deps:\n  - zlib", "deps: [zlib")
                     .replace("_copyright\nslices", "_copyright]\nslices"))
    result = diff_sdfs(load_sdf(path), load_sdf(other))
    assert result.is_empty
    assert render_diff(result) == ["no semantic change"]


def test_selection_per_arch(tmp_path: Path, sample_mirror: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _files(tmp_path)
    assert _cli("diff", str(old), str(new), "--mirror", sample_mirror,
                "--cache-dir", str(tmp_path / "cache"), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    selections = {(s["slice"], s["arch"]): s for s in doc["selections"]}
    assert set(selections) == {("libs", "x86_64"), ("libs", "aarch64")}
    for arch, triplet in (("x86_64", "x86_64-linux-gnu"), ("aarch64", "aarch64-linux-gnu")):
        assert selections["libs", arch]["added"] == [f"/lib/{triplet}/libz.so.1.2.13"]
        assert selections["libs", arch]["removed"] == []
    assert doc["renamed"] == [{"old": "license", "new": "copyright"}]


def test_diff_of_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, _new = _files(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("slices: [\n")
    assert _cli("diff", str(old), str(bad)) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}:2: not valid YAML")


def test_rules_changed_selection_unchanged_is_said(tmp_path: Path, sample_mirror: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """With a repository, an unchanged selection is stated, not left to be inferred."""
    old, _new = _files(tmp_path)
    assert _cli("diff", str(old), str(old), "--mirror", sample_mirror,
                "--cache-dir", str(tmp_path / "cache")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "no semantic change"
    assert out[-1] == "files selected: unchanged on x86_64, aarch64"
    # Sizes per slice, said once for both arches where they are equal.
    assert "      license on x86_64 and aarch64: " in "\n".join(out)
