"""``sdfgen check`` flags what the builder refuses (issue 12), with real RPMs.

The RPM is built with rpmbuild and patched as an attacker would (tests/fixtures/
builders.py): a header and payload path ``/usr/../../etc/xx/x``, a fifo, a device node
(``%dev``) and a symlink that climbs above the root, served from a createrepo_c
repository. A hand-written SDF selecting them gets one error each (ids in
checks/README.md); the SDF ``propose`` writes for the same package gets none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sdfgen.cli.app import main
from tests.fixtures.builders import build_rpm, patch_payload_names

ESCAPE = "/usr/../../etc/xx/x"
FILES = """\
/usr/share/hostile/data.txt
/usr/share/hostile/fifo
/usr/share/hostile/up
%dev(c, 1, 3) /usr/share/hostile/null
/usr/share/aaaaaa/x
"""


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile-check")
    tree = work / "tree"
    for directory in ("usr/share/hostile", "usr/share/aaaaaa"):
        (tree / directory).mkdir(parents=True)
    (tree / "usr/share/hostile/data.txt").write_text("data\n")
    (tree / "usr/share/aaaaaa/x").write_text("escape\n")
    os.mkfifo(tree / "usr/share/hostile/fifo")
    (tree / "usr/share/hostile/up").symlink_to("../../../../../etc/shadow")
    rpm = build_rpm(work, "hostile", tree, FILES)
    patched = patch_payload_names(rpm, {b"/usr/share/aaaaaa/": b"/usr/../../etc/xx/",
                                        b"./usr/share/aaaaaa/x": b"." + ESCAPE.encode()})
    repo = work / "repo"
    repo.mkdir()
    shutil.copy(patched, repo / rpm.name)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def _repo_args(repo: Path, tmp_path: Path) -> list[str]:
    return ["--repo", str(repo), "--arch", "x86_64", "--cache-dir", str(tmp_path / "cache")]


def test_selected_entries_the_builder_refuses_are_errors(
        hostile_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sdfs = tmp_path / "sdfs"
    sdfs.mkdir()
    sdf = sdfs / "hostile.yaml"
    sdf.write_text(f"""\
package: hostile
slices:
  data:
    contents:
      common:
        /usr/share/hostile/*:
        {ESCAPE}:
  dev:
    contents:
      common:
        /usr/share/hostile/null:
""")
    assert main(["check", str(sdfs), *_repo_args(hostile_repo, tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    payload = ("payload entry './usr/../../etc/xx/x': path escapes the root (..) (and 1 "
               "more); the builder refuses the package (on x86_64)")
    assert f"{sdf}:1: W: unsafe-payload hostile: {payload}" in lines
    # The glob selects the fifo and the symlink: one finding per refused entry.
    assert (f"{sdf}:6: E: special-file slice 'data': /usr/share/hostile/* selects "
            "'/usr/share/hostile/fifo', a device node, fifo or socket (slices cannot carry "
            "one); the builder refuses it (on x86_64)") in lines
    assert (f"{sdf}:6: E: escaping-symlink slice 'data': /usr/share/hostile/* selects "
            "'/usr/share/hostile/up', a symlink to ../../../../../etc/shadow, above the "
            "image root; the builder refuses it (on x86_64)") in lines
    # A pattern with '..' is wrong as written: reported once, as a pattern.
    assert (f"{sdf}:7: E: unsafe-path slice 'data': {ESCAPE}: an empty, '.' or '..' "
            "component; it can only select payload entries that are never used, and the "
            "builder refuses them") in lines
    assert sum(f"{sdf}:7: " in line for line in lines) == 1
    assert (f"{sdf}:11: E: special-file slice 'dev': /usr/share/hostile/null selects "
            "'/usr/share/hostile/null', a device node, fifo or socket (slices cannot carry "
            "one); the builder refuses it (on x86_64)") in lines


def test_proposed_sdf_selects_nothing_the_builder_refuses(
        hostile_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "proposed"
    repo_args = _repo_args(hostile_repo, tmp_path)
    assert main(["propose", "hostile", "-o", str(out / "hostile.yaml"), *repo_args]) == 0
    capsys.readouterr()
    assert main(["check", str(out), *repo_args, "--json"]) == 0
    report = capsys.readouterr().out
    for finding_id in ("unsafe-path", "special-file", "escaping-symlink"):
        assert f'"{finding_id}"' not in report
    assert '"unsafe-payload"' in report  # the package itself stays suspicious


def test_unsafe_patterns_without_repository(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    sdfs = tmp_path / "sdfs"
    sdfs.mkdir()
    sdf = sdfs / "hostile.yaml"
    sdf.write_text("""\
package: hostile
slices:
  data:
    contents:
      common:
        /usr/share/../../etc/shadow:
        usr/share/x:
        /usr//share/y:
        /usr/./share/z:
        /usr/share/ok/:
        /usr/share/fine/**:
""")
    assert main(["check", str(sdf)]) == 1
    ids = [(line.split(": ")[0], line.split(": ")[2].split()[0])
           for line in capsys.readouterr().out.splitlines() if ": E: " in line]
    assert ids == [(f"{sdf}:{n}", "unsafe-path") for n in (6, 7, 8, 9)] + \
        [(f"{sdf}:10", "trailing-slash")]
