"""The slice graph as DOT text, drawn by the real ``dot``, and ``sdfgen graph``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sdfgen.cli.app import main
from sdfgen.errors import ConfigError
from sdfgen.review.dot import draw, render
from sdfgen.review.graph import SliceState, neighbourhood, slice_graph, to_dot
from sdfgen.sdf.model import Sdf, SliceDef, SliceRef
from tests.sdfgen.cli.test_startup import heavy_modules_after

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sdf(package: str, slices: dict[str, list[str]], top: tuple[str, ...] = ()) -> Sdf:
    def ref(text: str) -> SliceRef:
        owner, _sep, name = text.rpartition("_")
        return SliceRef(owner, name)

    return Sdf(package, tuple(ref(t) for t in top),
               {name: SliceDef(name, tuple(ref(d) for d in deps))
                for name, deps in slices.items()})


def _set() -> dict[str, Sdf]:
    return {
        "zlib": _sdf("zlib", {"libs": ["glibc_libs", "zlib_copyright"], "copyright": []},
                     ("zlib_copyright",)),
        "glibc": _sdf("glibc", {"libs": ["glibc_copyright"], "copyright": []}),
        "app": _sdf("app", {"bin": ["zlib_libs", "gone_slice"]}, ("app_copyright",)),
    }


def test_dot_text_is_sorted_clustered_and_marks_changes() -> None:
    sdfs = _set()
    old_zlib = _sdf("zlib", {"extra": ["zlib_libs"]})
    graph = slice_graph(sdfs, states={"zlib_libs": SliceState.CHANGED},
                        notes={"zlib_libs": "was lib"}, removed=[(old_zlib, "extra")],
                        distrofiles={"base.yaml": (SliceRef("zlib", "libs"),)}, legend=True)
    dot = to_dot(graph)
    # One cluster per package, sorted: app, glibc, gone (missing), zlib.
    clusters = [line.split('"')[1] for line in dot.splitlines() if "label=" in line
                and "style=\"rounded\" color=\"#ced4da\"" in line]
    assert clusters == ["app", "glibc", "gone", "zlib", "legend"]
    assert ('"zlib_libs" [label="libs\\nwas lib" style="rounded,filled,bold" '
            'fillcolor="#ffe8cc" color="#e8590c" penwidth=2 fontname="Helvetica-Bold"];') in dot
    # A removed slice is dashed, and so are its old edges.
    assert '"zlib_extra" [label="extra" style="rounded,dashed" color="#c92a2a"' in dot
    assert '"zlib_extra" -> "zlib_libs" [style=dashed color="#c92a2a"];' in dot
    # A dep on a slice no SDF defines: a node of its own, the edge red and dashed.
    assert '"gone_slice" [label="slice\\n(no such slice)"' in dot
    assert '"app_bin" -> "gone_slice" [style=dashed color="#c92a2a"];' in dot
    # Top-level deps are dotted (app_copyright is missing too); explicit ones are plain.
    assert '"app_bin" -> "app_copyright" [style=dashed color="#c92a2a"];' in dot
    assert '"app_bin" -> "zlib_libs";' in dot
    assert '"distrofile:base.yaml" [label="base.yaml" shape=note' in dot
    assert '"distrofile:base.yaml" -> "zlib_libs" [color="#5c7cfa"];' in dot
    # Edges into a copyright slice are faint; a dotted one stays dotted.
    assert '"zlib_libs" -> "zlib_copyright" [color="#ced4da"];' in dot
    edges = [line for line in dot.splitlines() if " -> " in line]
    assert edges == sorted(edges)
    # The same set given in another order gives the same text.
    again = slice_graph(dict(reversed(list(sdfs.items()))),
                        states={"zlib_libs": SliceState.CHANGED}, notes={"zlib_libs": "was lib"},
                        removed=[(old_zlib, "extra")],
                        distrofiles={"base.yaml": (SliceRef("zlib", "libs"),)}, legend=True)
    assert to_dot(again) == dot


def test_top_level_deps_are_dotted() -> None:
    sdfs = {"a": _sdf("a", {"x": [], "y": ["a_x"]}, ("a_y",))}
    dot = to_dot(slice_graph(sdfs))
    assert '"a_x" -> "a_y" [style=dotted];' in dot
    assert '"a_y" -> "a_x";' in dot
    assert "a_y\" -> \"a_y" not in dot  # no edge from a slice to itself


def test_neighbourhood_keeps_the_change_its_deps_and_its_users() -> None:
    sdfs = _set() | {"other": _sdf("other", {"alone": []})}
    graph = slice_graph(sdfs, states={"zlib_libs": SliceState.CHANGED},
                        distrofiles={"base.yaml": (SliceRef("app", "bin"),),
                                     "lone.yaml": (SliceRef("other", "alone"),)})
    cut = neighbourhood(graph, {"zlib_libs"})
    assert {n.ref for n in cut.nodes} == {
        "zlib_libs", "zlib_copyright", "glibc_libs", "glibc_copyright", "app_bin"}
    assert cut.distrofiles == ("base.yaml",)
    assert cut.omitted == len(graph.nodes) - 5
    assert f"{cut.omitted} unrelated slice(s) not drawn" in to_dot(cut)


def test_dot_draws_valid_svg_and_png(tmp_path: Path) -> None:
    dot = to_dot(slice_graph(_set(), states={"zlib_libs": SliceState.ADDED}, legend=True))
    draw(dot, tmp_path / "g.svg")
    draw(dot, tmp_path / "g.png")
    root = ET.parse(tmp_path / "g.svg").getroot()
    assert root.tag == f"{SVG}svg"
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert {"zlib_libs", "glibc_libs", "app_bin", "gone_slice"} <= titles
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG_MAGIC
    # Without dot on PATH: one line saying what to install.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(ConfigError, match="install the Debian package graphviz"):
            render(dot, "svg")


def test_graph_of_a_distrofile_and_of_a_directory(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(SAMPLES / "distrofiles" / "base.yaml")]) == 0
    dot = capsys.readouterr().out
    assert 'label="base.yaml: 9 slice(s) of 4 package(s)"' in dot
    assert '"distrofile:base.yaml" -> "openssl-libs_libs" [color="#5c7cfa"];' in dot
    assert '"openssl-libs_libs" -> "glibc_libs";' in dot
    assert "python3" not in dot  # only the closure
    out = tmp_path / "base.png"
    assert main(["graph", str(SAMPLES / "distrofiles" / "base.yaml"), "--sdf-dir",
                 str(SAMPLES / "sdf"), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    svg = tmp_path / "all.svg"
    assert main(["graph", str(SAMPLES / "sdf"), "-o", str(svg)]) == 0
    titles = {t.text for t in ET.parse(svg).getroot().iter(f"{SVG}title")}
    assert {"python3_core", "zlib_libs", "tzdata_zoneinfo"} <= titles
    assert main(["graph", str(SAMPLES / "sdf"), "-o", str(tmp_path / "all.dot")]) == 0
    assert (tmp_path / "all.dot").read_text().startswith("digraph slices {")


def test_graph_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["graph", str(SAMPLES / "sdf"), "-o", str(tmp_path / "g.jpg")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'g.jpg'}: the file name must end "
                                       "in .svg, .png or .dot\n")
    assert main(["graph", str(tmp_path / "nosuch")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nosuch'}: no such file or directory\n"
    distro = tmp_path / "d.yaml"
    distro.write_text("name: d\nbase: scratch\nplatforms: [linux/amd64]\n"
                      "parts:\n  - zlib_lib\n")
    assert main(["graph", str(distro), "--sdf-dir", str(SAMPLES / "sdf")]) == 2
    assert capsys.readouterr().err == (
        "error: d.yaml:5: part zlib_lib: no such slice 'lib' in zlib.yaml "
        "(slices: libs, copyright)\n")
    assert main(["graph", str(distro)]) == 2
    assert "no SDF directory" in capsys.readouterr().err
    assert main(["graph", str(SAMPLES / "sdf"), "--sdf-dir", str(SAMPLES / "sdf")]) == 2
    assert "--sdf-dir" in capsys.readouterr().err
    assert main(["graph", str(SAMPLES / "sdf"), "-o", str(tmp_path / "no" / "g.svg")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'no'}: no such directory\n"


@pytest.mark.parametrize("argv", [["review", "--help"], ["graph", "--help"]])
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    code = ("with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert sdfgen.cli.app.main({argv!r}) == 0\n")
    assert heavy_modules_after(code) == []
