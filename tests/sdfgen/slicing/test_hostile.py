"""Hostile packages and files for ``sdfgen propose`` (issue 12), with real inputs.

One RPM is built with rpmbuild (tests/fixtures/builders.py) and patched as an attacker
would: its header and payload name ``/usr/../../etc/xx/x``; it also ships a fifo and a
device node (``%dev``). It is served from a createrepo_c repository. propose must leave
every entry the builder refuses out of its slices (the predicate
``sdfgen.slicing.sliceable.refusal``), and ``--update`` must write safely: through a
symlink, never over a read-only file or into a read-only directory, never over an SDF
with a repeated key.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from sdfgen.cli.app import main
from sdfgen.facts import FileKind, PackageFile
from sdfgen.slicing.sliceable import (
    ESCAPING_SYMLINK,
    SPECIAL_FILE,
    UNSAFE_PATH,
    Refusal,
    as_utf8,
    path_problem,
    refusal,
)
from tests.fixtures.builders import build_rpm, patch_payload_names

ESCAPE = "/usr/../../etc/xx/x"
FILES = """\
/usr/share/hostile/data.txt
/usr/share/hostile/fifo
%dev(c, 1, 3) /usr/share/hostile/null
/usr/share/aaaaaa/x
%license /usr/share/licenses/hostile/LICENSE
"""


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding the hostile RPM (x86_64)."""
    work = tmp_path_factory.mktemp("hostile")
    tree = work / "tree"
    for directory in ("usr/share/hostile", "usr/share/aaaaaa", "usr/share/licenses/hostile"):
        (tree / directory).mkdir(parents=True)
    (tree / "usr/share/hostile/data.txt").write_text("data\n")
    (tree / "usr/share/aaaaaa/x").write_text("escape\n")
    (tree / "usr/share/licenses/hostile/LICENSE").write_text("MIT\n")
    os.mkfifo(tree / "usr/share/hostile/fifo")
    rpm = build_rpm(work, "hostile", tree, FILES)
    # Header directory and payload name alike: /usr/share/aaaaaa/x -> /usr/../../etc/xx/x.
    patched = patch_payload_names(rpm, {b"/usr/share/aaaaaa/": b"/usr/../../etc/xx/",
                                        b"./usr/share/aaaaaa/x": b"." + ESCAPE.encode()})
    repo = work / "repo"
    repo.mkdir()
    shutil.copy(patched, repo / rpm.name)
    # A second package with a name that is not UTF-8 (header and payload alike).
    odd_tree = work / "odd-tree"
    (odd_tree / "usr/share/oddname/aaaaaa").mkdir(parents=True)
    (odd_tree / "usr/share/oddname/data.txt").write_text("data\n")
    (odd_tree / "usr/share/oddname/aaaaaa/x").write_text("odd\n")
    odd = build_rpm(work, "oddname", odd_tree,
                    "/usr/share/oddname/data.txt\n/usr/share/oddname/aaaaaa/x\n")
    shutil.copy(patch_payload_names(odd, {
        b"/usr/share/oddname/aaaaaa/": b"/usr/share/oddname/aa\xffaaa/",
        b"./usr/share/oddname/aaaaaa/x": b"./usr/share/oddname/aa\xffaaa/x"}),
        repo / odd.name)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def _propose(repo: Path, tmp_path: Path, *args: str, package: str = "hostile") -> int:
    return main(["propose", package, *args, "--repo", str(repo), "--arch", "x86_64",
                 "--cache-dir", str(tmp_path / "cache")])


def _patterns(doc: dict) -> list[str]:
    return [pattern for body in doc["slices"].values()
            for pattern in (body.get("contents", {}).get("common") or {})]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_refusal_is_the_builder_rule() -> None:
    def entry(path: str, kind: FileKind = FileKind.FILE, target: str | None = None
              ) -> PackageFile:
        return PackageFile(path, kind, 0o644, link_target=target)

    assert refusal(entry("/usr/share/x")) is None
    assert refusal(entry(ESCAPE)).code == UNSAFE_PATH  # type: ignore[union-attr]
    for bad in ("usr/x", "/usr//x", "/usr/./x", "/usr/x/.."):
        assert path_problem(bad) is not None, bad
    assert refusal(entry("/dev/null", FileKind.OTHER)).code == SPECIAL_FILE  # type: ignore[union-attr]
    escaping = entry("/usr/lib/x", FileKind.SYMLINK, "../../../etc/passwd")
    assert refusal(escaping).code == ESCAPING_SYMLINK  # type: ignore[union-attr]
    assert refusal(entry("/usr/lib/x", FileKind.SYMLINK, "../../etc/passwd")) is None
    # The RPM reader decodes names with surrogateescape: a byte that is not UTF-8.
    odd = b"/usr/share/a\xffb".decode("utf-8", "surrogateescape")
    assert refusal(entry(odd)) == Refusal(UNSAFE_PATH, "an unsafe path (a byte that is "
                                                       "not UTF-8)")
    assert refusal(entry("/usr/share/\u00e9t\u00e9")) is None  # UTF-8 is fine
    assert as_utf8(odd) == "/usr/share/a\\xffb"
    assert as_utf8("/usr/share/\u00e9t\u00e9") == "/usr/share/\u00e9t\u00e9"
    assert as_utf8("/a\ud800") == "/a\\ud800"  # a surrogate that escapes no byte


def test_propose_leaves_out_what_the_builder_refuses(
        hostile_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _propose(hostile_repo, tmp_path, "-o", str(out / "hostile.yaml")) == 0
    err = capsys.readouterr().err
    text = (out / "hostile.yaml").read_text()
    patterns = _patterns(yaml.safe_load(text))
    assert "/usr/share/hostile/data.txt" in patterns
    assert all(".." not in p.split("/") for p in patterns), patterns
    assert not any(p.endswith(("/fifo", "/null")) or p.endswith("/**") for p in patterns)
    # Listed in the trailer, with the builder's reason.
    trailer = text.split("# Left out of every slice")[1]
    assert ("#   the builder refuses it: a device node, fifo or socket (slices cannot carry "
            "one):\n#     /usr/share/hostile/ (2): fifo, null\n") in trailer
    assert ("#   the builder refuses it: an unsafe path (an empty, '.' or '..' component):\n"
            f"#     {ESCAPE}") in trailer
    assert ("hostile: hostile-1.0-1.x86_64: payload entry './usr/../../etc/xx/x': path "
            "escapes the root (..) (and 1 more); never used, and the builder refuses this "
            "package\n") in err
    assert _tree(tmp_path / "out") == {"hostile.yaml"}


ODD = "/usr/share/oddname/aa\\xffaaa/x"  # as the trailer shows it
ODD_TRAILER = ("#   the builder refuses it: an unsafe path (a byte that is not UTF-8):\n"
               f"#     {ODD}\n")


def test_propose_leaves_out_a_name_that_is_not_utf8(
        hostile_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 12: -o FILE raised UnicodeEncodeError; -o - wrote an SDF check rejects.
    sdf = tmp_path / "sdfs" / "oddname.yaml"
    assert _propose(hostile_repo, tmp_path, "-o", str(sdf), package="oddname") == 0
    text = sdf.read_bytes().decode("utf-8")  # strict: the file is UTF-8
    assert ODD_TRAILER in text
    assert "/usr/share/oddname/data.txt" in text
    assert not any("oddname/aa" in p for p in _patterns(yaml.safe_load(text)))
    capsys.readouterr()
    assert main(["check", str(sdf)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    # The same document on stdout.
    assert _propose(hostile_repo, tmp_path, "-o", "-", package="oddname") == 0
    out, err = capsys.readouterr()
    assert out == text and "Traceback" not in err
    # --check against a file that is not UTF-8 (as -o - wrote before) says it differs.
    sdf.write_bytes(text.replace(ODD, "/usr/share/oddname/aa").encode() + b"\xff\n")
    assert _propose(hostile_repo, tmp_path, "-o", str(sdf), "--check",
                    package="oddname") == 1
    assert f"oddname: {sdf} would change" in capsys.readouterr().err


def test_output_path_that_is_not_utf8(hostile_repo: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # argv as Python decodes it (surrogateescape), for a file and for a directory.
    odd_dir = os.fsdecode(os.fsencode(tmp_path) + b"/out\xff")
    assert _propose(hostile_repo, tmp_path, "-o", odd_dir + "/", package="oddname") == 0
    assert _propose(hostile_repo, tmp_path, "-o", odd_dir + "/x\udcfe.yaml",
                    package="oddname") == 0
    written = sorted(os.listdir(os.fsencode(tmp_path) + b"/out\xff"))
    assert written == [b"oddname.yaml", b"x\xfe.yaml"]
    assert ODD_TRAILER in Path(odd_dir, "oddname.yaml").read_text(encoding="utf-8")
    # An error about such a path is one line.
    Path(odd_dir, "file").write_text("x\n")
    assert _propose(hostile_repo, tmp_path, "-o", odd_dir + "/file/sub/x.yaml",
                    package="oddname") == 2
    err = capsys.readouterr().err
    shown = f"{tmp_path}/out\\xff"
    assert err.endswith(f"error: -o {shown}/file/sub/x.yaml: cannot make directory "
                        f"{shown}/file/sub: Not a directory\n"), err
    assert "Traceback" not in err


def _proposed_sdf(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An SDF dir with a proposed hostile.yaml minus its data line (the human's choice,
    which --update keeps) and a header naming an older build (so --update refreshes it)."""
    sdf_dir = tmp_path / "sdfs"
    sdf = sdf_dir / "hostile.yaml"
    assert _propose(repo, tmp_path, "-o", str(sdf)) == 0
    lines = sdf.read_text().replace("hostile-1.0-1.x86_64", "hostile-0.9-1.x86_64")
    sdf.write_text("".join(line for line in lines.splitlines(keepends=True)
                           if "data.txt" not in line))
    capsys.readouterr()
    return sdf_dir


def test_update_through_a_symlink_keeps_the_link(
        hostile_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real_dir = _proposed_sdf(hostile_repo, tmp_path, capsys)
    link_dir = tmp_path / "linked"
    link_dir.mkdir()
    (link_dir / "hostile.yaml").symlink_to(real_dir / "hostile.yaml")
    assert _propose(hostile_repo, tmp_path, "--sdf-dir", str(link_dir), "--update") == 0
    assert (link_dir / "hostile.yaml").is_symlink()
    written = (real_dir / "hostile.yaml").read_text()
    assert "# x86_64: hostile-1.0-1.x86_64" in written
    assert "/usr/share/hostile/data.txt:" not in written  # removed by the human: stays out
    assert _tree(link_dir) == {"hostile.yaml"}
    assert _tree(real_dir) == {"hostile.yaml"}  # no temporary file left behind


@pytest.mark.parametrize("what", ["file", "directory"])
def test_update_refuses_read_only_targets(
        what: str, hostile_repo: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sdf_dir = _proposed_sdf(hostile_repo, tmp_path, capsys)
    sdf = sdf_dir / "hostile.yaml"
    before = sdf.read_bytes()
    locked = sdf if what == "file" else sdf_dir
    mode = stat.S_IMODE(locked.stat().st_mode)
    locked.chmod(mode & ~0o222)
    try:
        assert _propose(hostile_repo, tmp_path, "--sdf-dir", str(sdf_dir), "--update") == 2
    finally:
        locked.chmod(mode)
    err = capsys.readouterr().err
    assert f"error: {locked}: read-only {what}; not written (make it writable first)\n" in err
    assert "Traceback" not in err
    assert sdf.read_bytes() == before
    assert _tree(sdf_dir) == {"hostile.yaml"}


def test_update_refuses_duplicate_keys(hostile_repo: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    sdf_dir = _proposed_sdf(hostile_repo, tmp_path, capsys)
    sdf = sdf_dir / "hostile.yaml"
    # The human's second block of a slice already present: ruamel would keep only one.
    sdf.write_text(sdf.read_text().replace(
        "  copyright:\n",
        "  data:\n    contents:\n      common:\n        /usr/share/hostile/mine:\n\n"
        "  copyright:\n", 1))
    before = sdf.read_bytes()
    line = [i for i, text in enumerate(before.decode().splitlines())
            if text == "  data:"][1] + 1
    assert _propose(hostile_repo, tmp_path, "--sdf-dir", str(sdf_dir), "--update") == 2
    err = capsys.readouterr().err
    assert (f"error: {sdf}:{line}: key 'data' repeats line ") in err
    assert "--update would drop one of them: merge them first (sdfgen check)\n" in err
    assert sdf.read_bytes() == before
    assert _tree(sdf_dir) == {"hostile.yaml"}


def test_output_below_a_regular_file(hostile_repo: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("not a directory\n")
    assert _propose(hostile_repo, tmp_path, "-o", str(blocker / "sub" / "hostile.yaml")) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"\nerror: -o {blocker}/sub/hostile.yaml: cannot make directory "
                        f"{blocker}/sub: Not a directory\n"), err
    assert blocker.read_text() == "not a directory\n"


def test_write_atomic_follows_a_chain_of_links_and_names_a_loop(tmp_path: Path) -> None:
    from sdfgen.errors import SdfError
    from sdfgen.sdf.document import write_atomic

    real = tmp_path / "real" / "a.yaml"
    real.parent.mkdir()
    real.write_text("old\n")
    (tmp_path / "one").symlink_to(real)
    (tmp_path / "two").symlink_to(tmp_path / "one")
    write_atomic(tmp_path / "two", "new\n")
    assert real.read_text() == "new\n"
    assert (tmp_path / "two").is_symlink() and (tmp_path / "one").is_symlink()
    assert _tree(real.parent) == {"a.yaml"}
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(SdfError, match=r"/loop: symlink loop; not written$"):
        write_atomic(tmp_path / "loop", "x\n")
    assert (tmp_path / "loop").is_symlink()
