"""``sdfgen propose --update`` across two builds of one package, and ``sdfgen diff`` on them.

``widget`` 1.0 and 2.0 are built with rpmbuild for x86_64 and aarch64 in the test; 2.0
adds a tool, a theme, a plugin directory and a changelog and drops a theme. They are
served by createrepo_c repositories on 127.0.0.1: ``both`` holds both builds (the old
build's file list is read from it), ``new`` only 2.0 (the header's directory digests
stand in for it). The SDF is a human's: slices renamed, a file and a slice removed,
comments beside entries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from sdfgen.cli.app import main
from sdfgen.slicing.header import leading_comments
from tests.sdfgen.conftest import RepoRpm, repo_build_rpm, repo_createrepo

ARCHES = ("x86_64", "aarch64")
OLD = {
    "/usr/lib64/libwidget.so.1.0": "lib",
    "/usr/lib64/libwidget.so.1": "@libwidget.so.1.0",  # a symlink
    "/usr/bin/widget": "!bin",
    "/usr/bin/widget-admin": "!admin",
    "/usr/share/widget/themes/a.theme": "a",
    "/usr/share/widget/themes/b.theme": "b",
    "/usr/share/widget/themes/old.theme": "old",
    "%doc /usr/share/doc/widget/NEWS": "news",
    "%config(noreplace) /etc/widget.conf": "conf",
    "%license /usr/share/licenses/widget/LICENSE": "MIT",
}
NEW = {k: v for k, v in OLD.items() if not k.endswith("old.theme")} | {
    "/usr/bin/widget-report": "!report",
    "/usr/share/widget/themes/c.theme": "c" * 1000,
    "/usr/libexec/widget/helper": "!helper",
    "%doc /usr/share/doc/widget/CHANGES": "changes",
}

HUMAN = """\
package: widget

deps:
  - widget_copyright

slices:
  # the library, keep it minimal
  runtime:
    deps:
      - widget_copyright
    contents:
      common:
        /usr/lib64/libwidget.so.1:  # the soname link
        /usr/lib64/libwidget.so.1.0:

  tools:
    deps:
      - widget_runtime
      - widget_copyright
    contents:
      common:
        /usr/bin/widget:  # widget-admin left out on purpose
        # /usr/bin/widget-admin: needs a daemon we do not ship

  themes:
    deps:
      - widget_copyright
    contents:
      common:
        /usr/share/widget/themes/a.theme:  # the default
        /usr/share/widget/themes/b.theme:
        /usr/share/widget/themes/old.theme:  # kept for old configs
        /usr/share/widget/README:

  copyright:
    contents:
      common:
        /usr/share/licenses/widget/LICENSE:
"""


def _spec(version: str, arch: str, files: dict[str, str]) -> RepoRpm:
    install, listed = [], []
    for entry, content in files.items():
        path = entry.split()[-1]
        install.append(f"mkdir -p %{{buildroot}}{path.rsplit('/', 1)[0]}")
        if content.startswith("@"):
            install.append(f"ln -s {content[1:]} %{{buildroot}}{path}")
        else:
            install.append(f"printf '%s' '{content.lstrip('!')}' > %{{buildroot}}{path}")
            if content.startswith("!"):
                install.append(f"chmod 0755 %{{buildroot}}{path}")
        listed.append(entry)
    return RepoRpm("widget", version, arch, install="\n".join(install),
                   files="\n".join(listed))


@pytest.fixture(scope="module")
def widget_repos(tmp_path_factory: pytest.TempPathFactory,
                 repo_www: tuple[Path, str]) -> dict[str, str]:
    """Repository URLs by name: ``old`` (1.0), ``both`` (1.0 and 2.0), ``new`` (2.0)."""
    work = tmp_path_factory.mktemp("widget")
    for version in ("1.0", "2.0"):
        (work / version).mkdir()
    rpms = {(version, arch): repo_build_rpm(_spec(version, arch, files), work / version)
            for version, files in (("1.0", OLD), ("2.0", NEW)) for arch in ARCHES}
    root, url = repo_www
    urls = {}
    for name, versions in (("old", ("1.0",)), ("both", ("1.0", "2.0")), ("new", ("2.0",))):
        repo = root / f"widget-{name}"
        repo.mkdir()
        for (version, _arch), rpm in rpms.items():
            if version in versions:
                shutil.copy(rpm, repo / rpm.name)
        repo_createrepo(repo)
        urls[name] = f"{url}widget-{name}/"
    return urls


def _run(command: str, repo: str, tmp_path: Path, *args: str) -> int:
    return main([command, *args, "--repo", repo, "--cache-dir", str(tmp_path / "cache")])


def _human_sdf(widget_repos: dict[str, str], tmp_path: Path) -> Path:
    """The human's SDF, with the header propose wrote for 1.0."""
    proposed = tmp_path / "proposed.yaml"
    assert _run("propose", widget_repos["old"], tmp_path, "widget", "-o", str(proposed)) == 0
    header = [line for line in leading_comments(proposed.read_text()) if line.strip()]
    sdf_dir = tmp_path / "sdfs"
    sdf_dir.mkdir()
    sdf = sdf_dir / "widget.yaml"
    sdf.write_text("\n".join(header) + "\n" + HUMAN)
    return sdf


def _slice_text(text: str, name: str) -> str:
    start = text.index(f"\n  {name}:\n")
    end = text.find("\n\n", start + 1)
    return text[start:end if end != -1 else len(text)]


def test_update_with_the_old_build_in_the_repository(
        widget_repos: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sdf = _human_sdf(widget_repos, tmp_path)
    before = sdf.read_text()
    assert "# x86_64: widget-1.0-1.x86_64" in before
    capsys.readouterr()
    # --check: the header names 1.0, the repository has 2.0: stale, exit 1, nothing written.
    assert _run("propose", widget_repos["both"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent), "--check") == 1
    err = capsys.readouterr().err
    assert ("stale header (x86_64: header widget-1.0-1.x86_64, repositories "
            "widget-2.0-1.x86_64; aarch64: header widget-1.0-1.aarch64, repositories "
            "widget-2.0-1.aarch64)") in err
    assert sdf.read_text() == before

    assert _run("propose", widget_repos["both"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent), "--update") == 0
    captured = capsys.readouterr()
    after = sdf.read_text()
    doc = yaml.safe_load(after)
    slices = doc["slices"]
    # New files go to the human's slices that hold their siblings, with a comment, in place.
    assert ("        /usr/bin/widget:  # widget-admin left out on purpose\n"
            "        /usr/bin/widget-report:  # new in 2.0-1; beside its siblings in "
            "/usr/bin/\n"
            "        # /usr/bin/widget-admin: needs a daemon we do not ship\n") in after
    assert "/usr/share/widget/themes/c.theme" in slices["themes"]["contents"]["common"]
    # ... a new directory gets the proposal's slice, with the deps every slice shares.
    [plugin_slice] = [name for name, body in slices.items()
                      if "/usr/libexec/widget/helper" in str(body)]
    assert plugin_slice not in ("runtime", "tools", "themes", "copyright")
    assert slices[plugin_slice]["deps"] == ["widget_copyright"]
    # What the human removed stays out: widget-admin, the config file and its slice.
    assert "/usr/bin/widget-admin:" not in after.replace("# /usr/bin/widget-admin", "")
    assert "/etc/widget.conf" not in after and "config" not in slices
    # The dropped theme's line is commented out, with its comment; the others untouched.
    assert ("        # /usr/share/widget/themes/old.theme:  # kept for old configs; not in "
            "2.0-1 (sdfgen propose --update)\n") in after
    assert _slice_text(after, "runtime") == _slice_text(before, "runtime")
    assert "  # the library, keep it minimal\n  runtime:\n" in after
    # The header names 2.0; the new changelog is reported, not added.
    assert "# x86_64: widget-2.0-1.x86_64" in after and "widget-1.0" not in after
    assert "/usr/share/doc/widget/: 1 new file(s) left out (%doc file)" in captured.err
    assert "+        /usr/bin/widget-report:" in captured.out  # the unified diff
    # The result passes check; a second run changes nothing; --check says 0.
    assert _run("check", widget_repos["both"], tmp_path, str(sdf.parent)) == 0
    capsys.readouterr()
    assert _run("propose", widget_repos["both"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent), "--check") == 0
    assert _run("propose", widget_repos["both"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent)) == 0
    assert sdf.read_text() == after
    assert capsys.readouterr().out == ""


def test_update_without_the_old_build_uses_the_header(
        widget_repos: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sdf = _human_sdf(widget_repos, tmp_path)
    before = sdf.read_text()
    capsys.readouterr()
    # 1.0 is gone: old.theme selects nothing and nothing says it was dropped, so the
    # result would fail check. Refused: nothing written, exit 1, one line per finding.
    assert _run("propose", widget_repos["new"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent)) == 1
    err = capsys.readouterr().err
    assert sdf.read_text() == before
    assert "vanished: slices.themes: /usr/share/widget/themes/old.theme" in err
    assert f"{sdf}: not updated: the result fails sdfgen check (1 error(s)):" in err
    assert "E: glob-matches-nothing slice 'themes': /usr/share/widget/themes/old.theme" in err
    assert "(already so before --update)" in err
    # The human removes the line; now the update goes through.
    sdf.write_text(before.replace("        /usr/share/widget/themes/old.theme:  # kept for "
                                  "old configs\n", ""))
    assert _run("propose", widget_repos["new"], tmp_path, "widget", "--sdf-dir",
                str(sdf.parent)) == 0
    err = capsys.readouterr().err
    after = sdf.read_text()
    # The helper's directory is new as a whole (its digest is not in the header): added.
    assert "/usr/libexec/widget/helper:" in after
    # /usr/bin and the themes changed: which of their files are new cannot be told.
    assert ("/usr/bin/: 2 file(s) in no slice may be new (the old build's list is gone "
            "from the repositories; the header keeps only a digest): review them") in err
    assert "/usr/bin/widget-report" not in after
    assert "/usr/share/widget/themes/c.theme" not in after
    assert _run("check", widget_repos["new"], tmp_path, str(sdf.parent)) == 0


def test_diff_reads_like_a_review(widget_repos: dict[str, str], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(HUMAN.replace("        /usr/share/widget/themes/old.theme:  # kept for "
                                 "old configs\n", ""))
    # themes renamed to look while README moves out to runtime; a tool moves to runtime.
    new_text = (old.read_text().replace("  themes:\n", "  look:\n")
                .replace("        /usr/share/widget/README:\n", "")
                .replace("        /usr/lib64/libwidget.so.1.0:\n",
                         "        /usr/lib64/libwidget.so.1.0:\n"
                         "        /usr/share/widget/README:\n        /usr/bin/widget:\n")
                .replace("        /usr/bin/widget:  # widget-admin left out on purpose\n",
                         "        /usr/bin/widget-report:\n"))
    new = tmp_path / "new.yaml"
    new.write_text(new_text)
    assert _run("diff", widget_repos["new"], tmp_path, str(old), str(new)) == 0
    out = capsys.readouterr().out.splitlines()
    assert "~ slice themes renamed to look (67% of its selection in common)" in out
    assert ("  moved /usr/share/widget/README from slice themes to slice runtime "
            "(on x86_64 and aarch64)") in out
    assert ("  moved /usr/bin/widget from slice tools to slice runtime "
            "(on x86_64 and aarch64)") in out
    # The same change on both arches is said once; tools gains widget-report.
    assert "  tools on x86_64 and aarch64: +1 -0 file(s)" in out
    assert sum(line.startswith("  tools on") for line in out) == 1
    assert "  bytes per slice (before -> after):" in out
    assert "      look on x86_64 and aarch64: 13 -> 2 (-11)" in out
    assert _run("diff", widget_repos["new"], tmp_path, str(old), str(new), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"path": "/usr/bin/widget", "old_slice": "tools", "new_slice": "runtime",
            "arch": "x86_64"} in doc["moves"]


def test_update_on_the_curated_samples(sample_mirror: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: --update on a copy of samples/sdf added 358 lines to glibc and appended
    to python3's hand-written core slice, and check then failed with 46 errors."""
    samples = Path(__file__).resolve().parents[3] / "samples" / "sdf"
    sdf_dir = tmp_path / "sdf"
    shutil.copytree(samples, sdf_dir)
    cache = str(tmp_path / "cache")
    code = main(["propose", "--all", "--sdf-dir", str(sdf_dir), "--update",
                 "--mirror", sample_mirror, "--cache-dir", cache])
    err = capsys.readouterr().err
    assert code == 0, err
    for sample in samples.glob("*.yaml"):
        before, after = sample.read_text(), (sdf_dir / sample.name).read_text()
        # No header named a build: one is added on top; the rest is the human's, as it was.
        assert after.endswith(before), sample.name
        assert "--update keeps this up to date" in after[:len(after) - len(before)]
    python3 = (sdf_dir / "python3.yaml").read_text()
    assert _slice_text(python3, "core") == _slice_text((samples / "python3.yaml").read_text(),
                                                       "core")
    assert main(["check", str(sdf_dir), "--mirror", sample_mirror, "--cache-dir", cache]) == 0
    # The new SDFs of the first run assumed slices of packages that have an SDF now:
    # the second run drops those notes; then nothing is left to change.
    capsys.readouterr()
    assert main(["propose", "--all", "--sdf-dir", str(sdf_dir), "--update",
                 "--mirror", sample_mirror, "--cache-dir", cache]) == 0
    err = capsys.readouterr().err
    assert f"{sdf_dir}/busybox.yaml: dropped the note 'no SDF for bash': its SDF exists now" \
        in err
    assert "no SDF for bash" not in (sdf_dir / "busybox.yaml").read_text()
    assert main(["propose", "--all", "--sdf-dir", str(sdf_dir), "--check",
                 "--mirror", sample_mirror, "--cache-dir", cache]) == 0
    assert main(["check", str(sdf_dir), "--mirror", sample_mirror, "--cache-dir", cache]) == 0


def test_diff_reads_each_side_against_the_build_its_header_names(
        widget_repos: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The SDF of widget 1.0 and its update for 2.0 (old.theme dropped with the file),
    compared with both builds in the repositories: the old side selects old.theme in
    1.0, so the diff shows that file leaving, not a rule that matched nothing."""
    old = _human_sdf(widget_repos, tmp_path)
    proposed = tmp_path / "proposed-2.0.yaml"
    assert _run("propose", widget_repos["new"], tmp_path, "widget", "-o", str(proposed)) == 0
    header = [line for line in leading_comments(proposed.read_text()) if line.strip()]
    new = tmp_path / "new.yaml"
    new.write_text("\n".join(header) + "\n" + HUMAN.replace(
        "        /usr/share/widget/themes/old.theme:  # kept for old configs\n", ""))
    capsys.readouterr()
    assert _run("diff", widget_repos["both"], tmp_path, str(old), str(new)) == 0
    out = capsys.readouterr().out.splitlines()
    for arch in ARCHES:
        assert f"builds: {arch} widget-1.0-1.{arch} -> widget-2.0-1.{arch}" in out, out
    assert "  themes on x86_64 and aarch64: +0 -1 file(s)" in out, out
    assert "      themes on x86_64 and aarch64: 16 -> 13 (-3)" in out, out
    # Against repositories that no longer hold 1.0, the old side is read against the
    # newest build, and the report says so (no 'builds:' line: both sides read 2.0).
    capsys.readouterr()
    assert _run("diff", widget_repos["new"], tmp_path, str(old), str(new)) == 0
    out = capsys.readouterr().out.splitlines()
    for arch in ARCHES:
        assert (f"{old}: {arch}: its header's widget-1.0-1.{arch} is not in the "
                "repositories; read against the newest build") in out, out
    assert not [line for line in out if line.startswith("builds:")], out
    # Without headers both sides are read against the newest build, 2.0, as before.
    plain_old = tmp_path / "plain-old.yaml"
    plain_old.write_text(HUMAN)
    capsys.readouterr()
    assert _run("diff", widget_repos["both"], tmp_path, str(plain_old), str(new)) == 0
    out = capsys.readouterr().out.splitlines()
    assert not [line for line in out if line.startswith("builds:")], out
    assert "  themes on x86_64 and aarch64: +0 -1 file(s)" not in out, out
