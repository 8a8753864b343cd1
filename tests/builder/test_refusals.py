"""The builder refuses what ``sdfgen check`` rejects (issue 12), with real inputs.

An RPM with a fifo and a device node (``%dev``) is built with rpmbuild and served from a
createrepo_c repository. A slice selecting either, a slice name check rejects (in the
Distrofile or in an SDF) and ``-o`` below a regular file each give a one-line error
naming the input, and nothing is written: no output, no staging directory, nothing
outside the output's directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.cli import main
from tests.fixtures.builders import build_rpm

FILES = "/usr/share/specials/data.txt\n/usr/share/specials/fifo\n" \
        "%dev(c, 1, 3) /usr/share/specials/null\n"


@pytest.fixture(scope="module")
def specials_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("specials")
    tree = work / "tree"
    (tree / "usr/share/specials").mkdir(parents=True)
    (tree / "usr/share/specials/data.txt").write_text("data\n")
    os.mkfifo(tree / "usr/share/specials/fifo")
    rpm = build_rpm(work, "specials", tree, FILES)
    repo = work / "repo"
    repo.mkdir()
    shutil.copy(rpm, repo / rpm.name)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def _build(tmp_path: Path, repo: Path, parts: str, slices: str, *,
           out: Path | None = None) -> int:
    """Build a Distrofile of ``parts`` from an SDF of ``slices`` under ``tmp_path/work``."""
    work = tmp_path / "work"
    (work / "sdf").mkdir(parents=True, exist_ok=True)
    (work / "sdf" / "specials.yaml").write_text(f"package: specials\nslices:\n{slices}")
    spec = work / "image.yaml"
    spec.write_text("name: t\nbase: scratch\nplatforms: [linux/amd64]\n"
                    f"parts: [{parts}]\n")
    return main(["build", str(spec), "-o", str(out or work / "out"), "--repo", str(repo),
                 "--sdf-dir", str(work / "sdf"), "--cache-dir", str(tmp_path / "cache"),
                 "-q"])


def _written(tmp_path: Path) -> set[str]:
    """What is in the work directory besides the inputs (and the RPM cache)."""
    work = tmp_path / "work"
    return {p.name for p in work.iterdir()} - {"sdf", "image.yaml", "plain"}


@pytest.mark.parametrize("entry", ["fifo", "null"])
def test_selected_fifo_or_device_is_refused(entry: str, specials_repo: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    slices = ("  data:\n    contents:\n      common:\n        /usr/share/specials/data.txt:\n"
              f"        /usr/share/specials/{entry}:\n")
    assert _build(tmp_path, specials_repo, "specials_data", slices) == 2
    err = capsys.readouterr().err
    assert err == (f"error: specials-1.0-1.x86_64.rpm: /usr/share/specials/{entry} is a "
                   "device node, fifo or socket (slices cannot carry one); slice "
                   "specials_data selects it; refusing it\n")
    assert _written(tmp_path) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "work"]


@pytest.mark.parametrize("part", ["specials_..", "specials_a/b", "specials_a b",
                                  "specials_Data"])
def test_distrofile_slice_name_check_rejects(part: str, specials_repo: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    name = part.split("_", 1)[1]
    slices = (f"  {name!r}:\n" if " " in name else f"  {name}:\n") + \
        "    contents:\n      common:\n        /usr/share/specials/data.txt:\n"
    assert _build(tmp_path, specials_repo, part, slices.replace("'", '"')) == 2
    err = capsys.readouterr().err
    assert err == (f"error: image.yaml:4: part {part}: slice name {name!r} is not lower-case "
                   "letters, digits and inner '-'\n")
    assert _written(tmp_path) == set()


def test_sdf_slice_name_check_rejects(specials_repo: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    slices = ("  data:\n    contents:\n      common:\n        /usr/share/specials/data.txt:\n"
              "  ../up:\n    deps: [specials_data]\n")
    assert _build(tmp_path, specials_repo, "specials_data", slices) == 2
    err = capsys.readouterr().err
    assert err == ("error: specials.yaml:7: slice name '../up' is not lower-case letters, "
                   "digits and inner '-'\n")
    assert _written(tmp_path) == set()


def test_output_below_a_regular_file(specials_repo: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    slices = "  data:\n    contents:\n      common:\n        /usr/share/specials/data.txt:\n"
    (tmp_path / "work").mkdir()
    plain = tmp_path / "work" / "plain"
    plain.write_text("a file\n")
    out = plain / "sub" / "out"
    assert _build(tmp_path, specials_repo, "specials_data", slices, out=out) == 2
    err = capsys.readouterr().err
    assert err == (f"error: output {out}: cannot make or write its directory {out.parent}: "
                   "Not a directory\n")
    assert plain.read_text() == "a file\n"
    assert _written(tmp_path) == set()


def test_clean_slice_builds(specials_repo: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """The same RPM builds when no slice selects the fifo or device node."""
    slices = "  data:\n    contents:\n      common:\n        /usr/share/specials/data.txt:\n"
    assert _build(tmp_path, specials_repo, "specials_data", slices) == 0, \
        capsys.readouterr().err
    assert _written(tmp_path) == {"out"}
