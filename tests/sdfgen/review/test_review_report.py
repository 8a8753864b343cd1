"""``sdfgen review`` on real SDFs and the real sample repository over HTTP on 127.0.0.1:
the zlib update (the update/ repository's higher release), a renamed slice with a file
moved out and a Distrofile left behind, the widget 1.0 -> 2.0 build that adds and drops
files, and two git revisions of one directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sdfgen.cli.app import main
from tests.sdfgen.conftest import repo_build_rpm, repo_createrepo
from tests.sdfgen.slicing.test_update_versions import ARCHES, HUMAN, NEW, OLD, _spec

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _repos_without_update(mirror: str) -> list[str]:
    base = f"{mirror}openEuler-24.03-LTS"
    return [arg for path in ("OS", "everything", "EPOL/main")
            for arg in ("--repo", f"{base}/{path}/$basearch/")]


@pytest.fixture(scope="module")
def sets(sample_mirror: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``old``: samples/sdf with headers naming the OS builds; ``new``: the same after
    ``propose --update`` with the update repository (zlib's header moves on); each with
    the sample Distrofiles beside it in ``../distrofiles``."""
    work = tmp_path_factory.mktemp("review")
    cache = str(work / "cache")
    packages = sorted(path.stem for path in (SAMPLES / "sdf").glob("*.yaml"))
    out = {}
    for name, repos in (("old", _repos_without_update(sample_mirror)),
                        ("new", ["--mirror", sample_mirror])):
        shutil.copytree(SAMPLES / "sdf", work / name / "sdf")
        shutil.copytree(SAMPLES / "distrofiles", work / name / "distrofiles",
                        ignore=shutil.ignore_patterns("proposed", "*.py"))
        sdf_dir = work / name / "sdf"
        if name == "new":
            shutil.rmtree(sdf_dir)
            shutil.copytree(out["old"], sdf_dir)
        assert main(["propose", *packages, "--sdf-dir", str(sdf_dir), "--update", *repos,
                     "--cache-dir", cache]) == 0
        out[name] = sdf_dir
    assert "oe2403.1" not in (out["old"] / "zlib.yaml").read_text()
    assert "oe2403.1" in (out["new"] / "zlib.yaml").read_text()
    out["cache"] = work / "cache"
    return out


def _review(tmp_path: Path, mirror: str, cache: Path, *args: str) -> str:
    report = tmp_path / "report.md"
    assert main(["review", *args, "--mirror", mirror, "--cache-dir", str(cache),
                 "-o", str(report)]) == 0
    return report.read_text()


def _regular_bytes(rpm: Path, pattern: str) -> int:
    """Bytes of the regular files of ``rpm`` whose path matches ``pattern``, by rpm."""
    listing = subprocess.run(
        ["rpm", "-qp", "--nosignature", "--queryformat",
         "[%{FILEMODES:perms} %{FILESIZES} %{FILENAMES}\n]", str(rpm)],
        capture_output=True, text=True, check=True).stdout
    return sum(int(size) for perms, size, path in (line.split(" ", 2)
                                                   for line in listing.splitlines())
               if perms.startswith("-") and re.fullmatch(pattern, path))


def _node_fill(svg: Path, title: str) -> str:
    for group in ET.parse(svg).getroot().iter(f"{SVG}g"):
        node_title = group.find(f"{SVG}title")
        if group.get("class") == "node" and node_title is not None \
                and node_title.text == title:
            # An Element without children is false: compare with None.
            shape = group.find(f"{SVG}path")
            if shape is None:
                shape = group.find(f"{SVG}polygon")
            assert shape is not None
            return shape.get("fill", "")
    raise AssertionError(f"no node {title} in {svg}")


def test_review_of_the_zlib_update(sets: dict[str, Path], sample_mirror: str,
                                   sample_repo_root: Path, tmp_path: Path) -> None:
    text = _review(tmp_path, sample_mirror, sets["cache"], str(sets["old"]), str(sets["new"]))
    assert "**1 package(s) changed**, 16 unchanged" in text
    assert ("- build `zlib-1:1.2.13.dfsg-1.oe2403` → **`zlib-1:1.2.13.dfsg-1.oe2403.1`** on "
            "x86_64 and aarch64; the package's own files: the same paths") in text
    # Bytes per slice and arch, as rpm itself counts the regular files.
    for arch in ("x86_64", "aarch64"):
        [rpm] = (sample_repo_root / "openEuler-24.03-LTS" / "update" / arch /
                 "Packages").glob("zlib-*.rpm")
        libs = _regular_bytes(rpm, r"/lib/.*-linux-gnu/libz\.so\..*")
        assert libs > 50_000
        assert f"| `libs` | {arch} | 2 → 2 | {libs:,} → {libs:,} | same |" in text
    assert "Files and bytes per slice: unchanged (x86_64: 3 files" in text
    assert "### `sdfgen check` of the new set" in text
    assert "`zlib.yaml:6` | W | `splitter-version`" in text
    # The picture: beside the report, linked from it, zlib's slices marked as a new build.
    assert "![slice dependency graph](report-graph.png)" in text
    assert "([SVG](report-graph.svg))" in text
    svg, png = tmp_path / "report-graph.svg", tmp_path / "report-graph.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert _node_fill(svg, "zlib_libs") == "#fff3bf"
    assert _node_fill(svg, "glibc_libs") == "#ffffff"
    titles = {t.text for t in ET.parse(svg).getroot().iter(f"{SVG}title")}
    assert "distrofile:python.yaml" in titles  # python's closure holds zlib
    assert "distrofile:base.yaml" not in titles and "tzdata_zoneinfo" not in titles


def _rename(old: Path, tmp_path: Path) -> Path:
    """A copy of ``old`` (and its Distrofiles) with openssl-libs' ``libs`` renamed to
    ``crypto`` and legacy.so moved out to a new slice; cc.yaml still names the old."""
    new = tmp_path / "pr" / "sdf"
    shutil.copytree(old, new)
    shutil.copytree(old.parent / "distrofiles", new.parent / "distrofiles")
    sdf = new / "openssl-libs.yaml"
    text = sdf.read_text().replace("  libs:\n", "  crypto:\n").replace(
        "        /usr/lib/*-linux-gnu/ossl-modules/legacy.so:\n", "")
    # legacy.so needs libcrypto: its slice deps on crypto (check says so otherwise).
    text = text.replace("\n  copyright:\n", "\n  legacy:\n    deps:\n      - glibc_libs\n"
                        "      - openssl-libs_crypto\n      - openssl-libs_copyright\n"
                        "    contents:\n      common:\n"
                        "        /usr/lib/*-linux-gnu/ossl-modules/legacy.so:\n\n"
                        "  copyright:\n")
    sdf.write_text(text)
    for path in [new / "openssl.yaml", new / "python3.yaml",
                 *[new.parent / "distrofiles" / f"{n}.yaml" for n in ("base", "python")]]:
        path.write_text(path.read_text().replace("openssl-libs_libs", "openssl-libs_crypto"))
    return new


def test_review_of_a_renamed_slice(sets: dict[str, Path], sample_mirror: str,
                                   tmp_path: Path) -> None:
    new = _rename(sets["new"], tmp_path)
    text = _review(tmp_path, sample_mirror, sets["cache"], str(sets["new"]), str(new))
    assert "slices: 1 renamed, 1 added, 0 removed" in text
    assert ("- **renamed** `openssl-libs_libs` → `openssl-libs_crypto` "
            "(83% of its files in common)") in text
    assert ("  - used before by: Distrofile `base.yaml` (part), `cc.yaml` (part), "
            "`openssl.yaml` (closure), `python.yaml` (closure); SDF `openssl.yaml` "
            "(slice bins), `python3.yaml` (slice ssl)") in text
    assert ("  - uses of the new name: Distrofile `base.yaml` (part), `openssl.yaml` "
            "(closure), `python.yaml` (closure); SDF `openssl.yaml` (slice bins), "
            "`openssl-libs.yaml` (slice legacy), `python3.yaml` (slice ssl)") in text
    assert "  - ⚠️ still naming `openssl-libs_libs`: Distrofile `cc.yaml` (part)" in text
    assert "- **added** `openssl-libs_legacy`" in text
    assert "`sdfgen check` passes on x86_64, aarch64 (0 error(s)" in text
    assert ("- new: cc.yaml:14: part openssl-libs_libs: no such slice 'libs' in "
            "openssl-libs.yaml (slices: crypto, legacy, copyright)") in text
    # The moved file is one line; the bytes it took from crypto show in both rows.
    assert ("  moved /usr/lib/*-linux-gnu/ossl-modules/legacy.so from slice libs to slice "
            "legacy (on x86_64 and aarch64)") in text
    rows = {arch: re.search(rf"\| `crypto` \(was `libs`\) \| {arch} \| 6 → 5 \| "
                            r"([\d,]+) → ([\d,]+) \| (-[\d,]+) \|", text)
            for arch in ("x86_64", "aarch64")}
    for arch, row in rows.items():
        assert row is not None, arch
        before, after, delta = (int(v.replace(",", "")) for v in row.groups())
        assert after - before == delta < 0
        legacy = re.search(rf"\| `legacy` \| {arch} \| 0 → 1 \| 0 → ([\d,]+) \|", text)
        assert legacy is not None and int(legacy.group(1).replace(",", "")) == -delta
    svg = tmp_path / "report-graph.svg"
    assert _node_fill(svg, "openssl-libs_crypto") == "#d0ebff"  # renamed
    assert _node_fill(svg, "openssl-libs_legacy") == "#d3f9d8"  # added
    # cc.yaml still points at the old name: drawn as a missing slice.
    titles = {t.text for t in ET.parse(svg).getroot().iter(f"{SVG}title")}
    assert {"distrofile:cc.yaml", "openssl-libs_libs", "distrofile:cc.yaml->openssl-libs_libs"
            } <= titles


@pytest.fixture(scope="module")
def widget_repo(tmp_path_factory: pytest.TempPathFactory,
                repo_www: tuple[Path, str]) -> str:
    """The URL of a repository holding widget 1.0 and 2.0 (built as in the --update
    tests: 2.0 adds a tool, a theme, a helper and a changelog and drops a theme)."""
    work = tmp_path_factory.mktemp("widget-review")
    root, url = repo_www
    repo = root / "widget-review"
    repo.mkdir()
    for version, files in (("1.0", OLD), ("2.0", NEW)):
        (work / version).mkdir()
        for arch in ARCHES:
            shutil.copy(repo_build_rpm(_spec(version, arch, files), work / version), repo)
    repo_createrepo(repo)
    return f"{url}widget-review/"


def test_review_of_widget_1_to_2(widget_repo: str, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    # The human's SDF under the header propose wrote for 1.0 (the 1.0 build's NEVRAs).
    header = "".join(f"# {arch}: widget-1.0-1.{arch}\n" for arch in ARCHES)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    (old_dir / "widget.yaml").write_text(header + HUMAN)
    (new_dir / "widget.yaml").write_text(header + HUMAN)
    assert main(["propose", "widget", "--sdf-dir", str(new_dir), "--update", "--repo",
                 widget_repo, "--cache-dir", cache]) == 0
    assert "widget-2.0-1.x86_64" in (new_dir / "widget.yaml").read_text()
    report = tmp_path / "out" / "widget.md"
    report.parent.mkdir()
    assert main(["review", str(old_dir), str(new_dir), "--repo", widget_repo,
                 "--cache-dir", cache, "-o", str(report)]) == 0
    text = report.read_text()
    assert ("- build `widget-1.0-1` → **`widget-2.0-1`** on x86_64 and aarch64; the "
            "package's own files: +4 −1 file(s)") in text
    assert ("Files the package itself added (+) or dropped (−) on x86_64 and aarch64:\n\n"
            "```diff\n+ /usr/bin/widget-report\n+ /usr/libexec/widget/helper\n"
            "+ /usr/share/doc/widget/CHANGES\n+ /usr/share/widget/themes/c.theme\n"
            "- /usr/share/widget/themes/old.theme\n```") in text
    # themes (README 11 bytes, a and b 1 each) lost old.theme (3) and gained c.theme
    # (1000); tools gained widget-report (6).
    assert "| `themes` | x86_64 and aarch64 | 4 → 4 | 16 → 1,013 | +997 |" in text
    assert "| `tools` | x86_64 and aarch64 | 1 → 2 | 3 → 9 | +6 |" in text
    assert re.search(r"- \*\*added\*\* `widget_[a-z-]+`", text)
    assert "`sdfgen check` passes on x86_64, aarch64 (0 error(s)" in text
    assert (report.parent / "widget-graph.png").read_bytes()[:8] == PNG_MAGIC


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_review_between_git_revisions(sets: dict[str, Path], sample_mirror: str,
                                      tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "release").mkdir(parents=True)
    shutil.copytree(sets["new"], repo / "release" / "sdf")
    shutil.copytree(sets["new"].parent / "distrofiles", repo / "release" / "distrofiles")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "old")
    renamed = _rename(repo / "release" / "sdf", tmp_path)
    shutil.rmtree(repo / "release")
    shutil.copytree(renamed.parent, repo / "release")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "rename")
    # The work tree holds neither revision: review reads the trees, not the files.
    shutil.rmtree(repo / "release" / "sdf")
    monkeypatch.chdir(repo / "release")
    out = tmp_path / "git"
    out.mkdir()
    text = _review(out, sample_mirror, sets["cache"], "HEAD~1:release/sdf", "HEAD:./sdf")
    assert text.startswith("## SDF review: `HEAD~1:release/sdf` → `HEAD:./sdf`\n")
    assert "- **renamed** `openssl-libs_libs` → `openssl-libs_crypto`" in text
    # The Distrofiles come from each revision's ../distrofiles.
    assert "  - ⚠️ still naming `openssl-libs_libs`: Distrofile `cc.yaml` (part)" in text
    status = _git(repo, "status", "--porcelain").splitlines()
    assert sorted(status) == sorted(f" D release/sdf/{p.name}" for p in renamed.glob("*.yaml"))


def test_review_bad_inputs(sets: dict[str, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    new = str(sets["new"])
    capsys.readouterr()
    assert main(["review", str(tmp_path / "nosuch"), new]) == 2
    assert capsys.readouterr().err == (f"error: OLD '{tmp_path / 'nosuch'}': no such "
                                       "directory (a git tree is named REV:PATH)\n")
    assert main(["review", new, str(sets["new"] / "zlib.yaml")]) == 2
    assert capsys.readouterr().err == (f"error: NEW '{sets['new'] / 'zlib.yaml'}': not a "
                                       "directory of SDFs\n")
    assert main(["review", new, new, "-o", str(tmp_path / "no" / "r.md")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["review", new, new, "--graph-dir", str(tmp_path / "no")]) == 2
    assert capsys.readouterr().err == f"error: --graph-dir {tmp_path / 'no'}: not a directory\n"
    assert main(["review", new, new, "--distrofiles", str(tmp_path / "no")]) == 2
    assert capsys.readouterr().err == (f"error: --distrofiles {tmp_path / 'no'}: not a "
                                       "directory\n")
    monkeypatch.chdir(sets["new"])  # not in a git repository
    assert main(["review", "HEAD:sdf", new]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: OLD 'HEAD:sdf': no such directory, nor a git revision "
                          "'HEAD' here") and err.count("\n") == 1


def test_review_without_a_repository(sets: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    new = _rename(sets["new"], tmp_path)
    assert main(["review", str(sets["new"]), str(new)]) == 0
    captured = capsys.readouterr()
    assert "note: no repository given" in captured.err
    # Renames by the rules the slices share; no builds, no bytes, no picture.
    assert "- **renamed** `openssl-libs_libs` → `openssl-libs_crypto`" in captured.out
    assert "passes without a repository" in captured.out
    assert "bytes" not in captured.out and "![" not in captured.out
