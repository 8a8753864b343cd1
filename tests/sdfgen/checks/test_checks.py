"""``sdfgen check``: each finding id on a failing example; the corpus; the sample repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdfgen.checks.findings import Finding
from sdfgen.checks.runner import SEVERITIES, check_paths
from sdfgen.cli.app import app, main
from sdfgen.cli.sdf import register

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "openeuler-sdf"
README = Path(__file__).resolve().parents[3] / "sdfgen" / "checks" / "README.md"
T = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}


def _cli(*argv: str) -> int:
    if not any(c.name == "check" or getattr(c.callback, "__name__", "") == "check"
               for c in app.registered_commands):
        register(app)
    return main(list(argv))


def _sdfs(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "sdfs"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name.replace('__', '-')}.yaml").write_text(text)
    return directory


def _ids(findings: list[Finding]) -> list[tuple[str, str, int]]:
    return [(Path(f.file).stem, f.id, f.line) for f in findings]


def test_every_id_is_documented() -> None:
    text = README.read_text()
    for finding_id in SEVERITIES:
        assert f"| `{finding_id}` | {SEVERITIES[finding_id].value} |" in text, finding_id


def test_schema_findings(tmp_path: Path) -> None:
    directory = _sdfs(tmp_path, good="""\
package: good
deps:
  - good_copyright
slices:
  Libs_X:
    essential:
      - good_copyright
    contents:
      common: /usr/lib64/*
  empty:
  copyright:
    contents:
      common:
        /usr/share/licenses/good/COPYING:
        /usr/share/licenses/good/COPYING:
""", other="package: wrongname\nslices:\n  copyright:\n    contents:\n      common:\n"
          "        /x:\n", broken="package: b\nslices: [\n")
    findings = check_paths([directory], ("x86_64",))
    assert _ids(findings) == [
        ("broken", "invalid-yaml", 3),
        ("good", "splitter-top-level-dep", 3),
        ("good", "bad-slice-name", 5),
        ("good", "unknown-key", 6),
        ("good", "wrong-type", 9),
        ("good", "empty-slice", 10),
        ("good", "duplicate-key", 15),
        ("other", "package-name-mismatch", 1),
    ]
    by_id = {f.id: f for f in findings}
    assert str(by_id["wrong-type"]).endswith(
        "good.yaml:9: E: wrong-type slice 'Libs_X' contents.common is a string, not a map of "
        "paths: splitter reads it character by character including '*', which selects every "
        "file")
    assert by_id["package-name-mismatch"].message == \
        "package 'wrongname' is not the file name 'other.yaml' (want wrongname.yaml)"
    assert by_id["invalid-yaml"].message.startswith("not valid YAML")


def test_dep_findings_and_comments_are_not_findings(tmp_path: Path) -> None:
    directory = _sdfs(tmp_path, a="""\
package: a
deps:
  - a_copyright
slices:
  libs:
    deps:
      - b_libs
      - b_nosuch
      - ghost_libs
      #- c_libs   commented out: not a finding
    contents:
      common:
        /usr/lib64/liba.so.*:
#        /usr/lib64/liba-extra.so: (无)
""", b="""\
package: b
deps:
  - b_copyright
slices:
  libs:
    deps:
      - b_core
  core:
    deps:
      - a_libs
  copyright:
    contents:
      common:
        /usr/share/licenses/b/COPYING:
""")
    findings = check_paths([directory], ("x86_64",))
    assert _ids(findings) == [
        ("a", "no-copyright-slice", 1),
        ("a", "top-dep-unknown-slice", 3),
        ("a", "dep-cycle", 5),
        ("a", "dep-unknown-slice", 8),
        ("a", "dep-unknown-package", 9),
        ("b", "splitter-top-level-dep", 3),
    ]
    messages = {f.id: f.message for f in findings}
    assert messages["dep-cycle"] == "dependency cycle: a_libs -> b_libs -> b_core -> a_libs"
    assert messages["dep-unknown-slice"] == \
        "slice 'libs': dep b_nosuch: b has no slice 'nosuch' (it has: libs, core, copyright)"
    assert messages["dep-unknown-package"] == "slice 'libs': dep ghost_libs: no SDF for " \
        "package 'ghost'"


def test_trailing_slash_without_repository(tmp_path: Path) -> None:
    directory = _sdfs(tmp_path, t="package: t\nslices:\n  data:\n    contents:\n      common:\n"
                      "        /etc/t.d/:\n  copyright:\n    contents:\n      common:\n"
                      "        /usr/share/licenses/t/COPYING:\n")
    [item] = check_paths([directory / "t.yaml"], ("x86_64",))
    assert (item.id, item.line) == ("trailing-slash", 6)
    assert "write /etc/t.d or /etc/t.d/**" in item.message


def test_corpus_known_defects_without_repository() -> None:
    findings = check_paths([CORPUS], ("x86_64", "aarch64"))
    got = {(Path(f.file).name, f.id, f.line) for f in findings}
    expected = {
        ("glibc-nss-devel.yaml", "empty-document", 1),
        ("java-21-openjdk-headless.yaml", "wrong-type", 190),
        ("java-21-openjdk-headless.yaml", "path-options", 166),
        ("krb5-libs.yaml", "top-dep-unknown-slice", 4),
        ("krb5-libs.yaml", "trailing-slash", 17),
        ("krb5-libs.yaml", "trailing-slash", 30),
        ("nodejs-acorn.yaml", "paths-outside-common", 12),
        ("zlib.yaml", "top-dep-unknown-slice", 4),
        ("xz-libs.yaml", "top-dep-unknown-slice", 4),
        ("libstdc++.yaml", "top-dep-unknown-slice", 4),
        ("ncurses-libs.yaml", "top-dep-unknown-slice", 4),
    }
    assert expected <= got
    # The (无) lines of python3.yaml are comments: python3 has no findings without a repo.
    assert not [f for f in findings if f.file.endswith("python3.yaml")]


# -- against the sample repository ----------------------------------------------------------

GLIBC = """\
package: glibc
deps:
  - glibc_copyright
slices:
  libs:
    deps:
      - glibc_config
      - glibc_copyright
    contents:
      common:
        /lib/*-linux-gnu/libc.so.6:
        /lib/*-linux-gnu/libm.so.6:
        /lib/*-linux-gnu/ld-linux-*.so.*:
      extra:
        linux-x86_64:
          /lib64/ld-linux-x86-64.so.2:
          /lib/*-linux-gnu/libc.so.6:
        linux-aarch64:
          /lib/ld-linux-aarch64.so.1:
          /lib/*-linux-gnu/libc.so.6:
  config:
    deps:
      - glibc_copyright
    contents:
      common:
        /etc/gai.conf:
  gconv:
    deps:
      - glibc_libs
      - glibc_copyright
    contents:
      common:
        /usr/lib/*-linux-gnu/gconv/**:
  copyright:
    contents:
      common:
        /usr/share/licenses/glibc/libc6.copyright:
"""

ZLIB = """\
package: zlib
deps:
  - zlib_copyright
slices:
  libs:
    deps:
      - glibc_libs
      - zlib_copyright
    contents:
      common:
        /lib/*-linux-gnu/libz.so.1*:
  copyright:
    contents:
      common:
        /usr/share/licenses/zlib/zlib1g.copyright:
"""

OPENSSL_BAD = """\
package: openssl-libs
deps:
  - openssl-libs_copyright
slices:
  libs:
    contents:
      common:
        /usr/lib/*-linux-gnu/libssl.so.3:
        /usr/lib/*-linux-gnu/libcrypto.so.*:
        /usr/lib64/libssl.so.*:
      extra:
        linux-x86_64:
          /usr/lib/aarch64-linux-gnu/ossl-modules/legacy.so:
  engines:
    deps:
      - openssl-libs_libs
    contents:
      common:
        /usr/lib/*-linux-gnu/engines-3/*:
        /usr/lib/*libcrypto.so.3:
  copyright:
    contents:
      common:
        /usr/share/licenses/openssl-libs/*:
"""


def _repo_args(mirror: str, tmp_path: Path) -> list[str]:
    return ["--mirror", mirror, "--cache-dir", str(tmp_path / "cache")]


def test_clean_sdfs_pass_against_the_repository(tmp_path: Path, sample_mirror: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    directory = _sdfs(tmp_path, glibc=GLIBC, zlib=ZLIB)
    assert _cli("check", str(directory), *_repo_args(sample_mirror, tmp_path)) == 0
    # The SDFs are clean; the sample's zlib carries Debian's version, which splitter's
    # parser rejects (a warning about the repository, not the SDF).
    assert capsys.readouterr().out.splitlines() == [
        f"{directory / 'zlib.yaml'}:1: W: splitter-version version '1.2.13.dfsg' of zlib: "
        "splitter's version parser (packaging.version) rejects it, so splitter cannot "
        "download the package and cuts none of its slices (on x86_64, aarch64)",
        "0 error(s), 1 warning(s)"]


def test_repository_findings(tmp_path: Path, sample_mirror: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    directory = _sdfs(tmp_path, glibc=GLIBC, zlib=ZLIB, openssl__libs=OPENSSL_BAD,
                      notthere="package: notthere\nslices:\n  copyright:\n    contents:\n"
                      "      common:\n        /x:\n")
    code = _cli("check", str(directory), *_repo_args(sample_mirror, tmp_path), "--json")
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    got = {(Path(f["file"]).stem, f["id"], f["line"]) for f in doc["findings"]}
    assert got == {
        ("notthere", "package-not-in-repository", 1),
        ("openssl-libs", "needed-not-in-closure", 5),
        ("openssl-libs", "glob-matches-nothing", 10),
        ("openssl-libs", "extra-wrong-arch", 13),
        ("openssl-libs", "needed-not-in-closure", 14),
        ("openssl-libs", "path-in-two-slices", 20),
        ("openssl-libs", "glob-readings-differ", 20),
        ("openssl-libs", "splitter-top-level-dep", 3),
        ("openssl-libs", "splitter-arch-block", 13),
        ("openssl-libs", "opened-not-in-closure", 5),
        ("openssl-libs", "opened-not-in-closure", 14),
        ("zlib", "splitter-version", 1),
    }
    messages = {(f["id"], f["line"], f["message"].split(" needs ")[-1][:12]): f["message"]
                for f in doc["findings"]}
    assert messages["needed-not-in-closure", 5, "libc.so.6 (f"] == (
        "slice 'libs': libcrypto.so.3 (and 1 more) needs libc.so.6 (from glibc), but no slice "
        "in its dep closure selects it; add a dep on glibc_libs (on x86_64, aarch64)")
    # engines depends on libs, which has libcrypto.so.3: only glibc is missing there.
    engines = [f["message"] for f in doc["findings"]
               if f["line"] == 14 and f["id"] == "needed-not-in-closure"]
    assert engines and all("(from glibc)" in m for m in engines)
    messages = {f["id"]: f["message"] for f in doc["findings"]}
    assert messages["glob-matches-nothing"].endswith(
        "/usr/lib64/libssl.so.* selects no file of openssl-libs; splitter then extracts the "
        "whole package (on x86_64, aarch64)")
    assert messages["extra-wrong-arch"] == (
        "slice 'libs': /usr/lib/aarch64-linux-gnu/ossl-modules/legacy.so is under "
        "extra.linux-x86_64 but selects files only on linux-aarch64 (on x86_64)")
    assert messages["path-in-two-slices"].startswith(
        "slice 'engines': /usr/lib/*libcrypto.so.3 and slice 'libs': "
        "/usr/lib/*-linux-gnu/libcrypto.so.* both select the same path(s) (e.g. /usr/lib/")
    assert messages["glob-readings-differ"].startswith(
        "slice 'engines': /usr/lib/*libcrypto.so.3: splitter's '*' also selects")
    assert messages["splitter-top-level-dep"] == (
        "top-level dep openssl-libs_copyright: splitter cuts no top-level deps, so its images "
        "of slice(s) 'libs', 'engines' lack it; add openssl-libs_copyright to their deps")
    # On aarch64 splitter runs the x86_64 block too: it selects aarch64's legacy.so, which
    # no slice takes there.
    assert messages["splitter-arch-block"] == (
        "slice 'libs': splitter runs extra.linux-x86_64 on aarch64 too, where it cuts 1 "
        "file(s) no slice takes there (e.g. /usr/lib/aarch64-linux-gnu/ossl-modules/"
        "legacy.so)")
    # libcrypto.so.3 names OPENSSLDIR's files: shipped by openssl, which has no SDF here.
    opened = sorted(f["message"] for f in doc["findings"]
                    if f["id"] == "opened-not-in-closure" and f["line"] == 5)
    assert opened[0] == (
        "slice 'libs': libcrypto.so.3 opens /usr/lib/ssl/cert.pem (from openssl), but no "
        "slice in its dep closure selects it; there is no SDF for openssl (on x86_64, aarch64)")
    warnings = 3 + sum(f["id"] == "opened-not-in-closure" for f in doc["findings"])
    assert doc["warnings"] == warnings and doc["errors"] == len(doc["findings"]) - warnings


def test_only_one_arch(tmp_path: Path, sample_mirror: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    directory = _sdfs(tmp_path, glibc=GLIBC, zlib=ZLIB, openssl__libs=OPENSSL_BAD)
    assert _cli("check", str(directory / "openssl-libs.yaml"),
                *_repo_args(sample_mirror, tmp_path), "--arch", "aarch64") == 1
    out = capsys.readouterr().out
    assert "extra-wrong-arch" not in out  # the x86_64 extra is not looked at on aarch64
    assert "needs libc.so.6 (from glibc), but no slice in its dep closure selects it; add a " \
        "dep on glibc_libs (on aarch64)" in out


def test_corpus_against_the_sample_repository(tmp_path: Path, sample_mirror: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("check", str(CORPUS), *_repo_args(sample_mirror, tmp_path), "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    found = {(Path(f["file"]).name, f["id"]) for f in doc["findings"]}
    # openEuler paths (/usr/lib64) are not the sample's Debian paths: nothing matches.
    assert ("zlib.yaml", "glob-matches-nothing") in found
    # Packages the sample lacks are reported once each, and still checked offline.
    missing = [f for f in doc["findings"] if f["id"] == "package-not-in-repository"]
    assert len({f["file"] for f in missing}) == len(missing)
    assert ("c-ares.yaml", "package-not-in-repository") in found
    assert ("krb5-libs.yaml", "trailing-slash") in found
    # python3's binary lands on the Debian path, so its NEEDED are checked.
    assert ("python3.yaml", "needed-not-in-closure") in found


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("check", str(tmp_path / "nope")) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope'}: no such file or directory\n"
    assert _cli("check", str(tmp_path)) == 2
    assert "no *.yaml SDF files in this directory" in capsys.readouterr().err
    assert _cli("check", str(CORPUS / "python3.yaml")) == 0
    captured = capsys.readouterr()
    assert "repository checks skipped" in captured.err
    assert captured.out == "0 error(s), 0 warning(s)\n"


def test_splitter_hazards(tmp_path: Path, sample_mirror: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """Each construct splitter cuts differently from the builder, on a hand-made SDF."""
    directory = _sdfs(tmp_path, glibc=GLIBC, zlib="""\
package: zlib
slices:
  libs:
    deps:
      - glibc_libs
      - zlib_copyright
    contents:
      extra:
        linux-x86_64:
          /lib/x86_64-linux-gnu/libz.so.1*:
        linux-aarch64:
          /lib/aarch64-linux-gnu/libz.so.1*:
  copyright:
    contents:
      common:
        /usr/share/licenses/zlib/zlib1g.copyright:
""")
    offline = _ids(check_paths([directory / "zlib.yaml"], ("x86_64", "aarch64")))
    assert offline == [("zlib", "splitter-extra-only", 3)]
    code = _cli("check", str(directory / "zlib.yaml"), *_repo_args(sample_mirror, tmp_path),
                "--json")
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    blocks = sorted((f["line"], f["message"]) for f in doc["findings"]
                    if f["id"] == "splitter-arch-block")
    assert blocks == [
        (10, "slice 'libs': extra.linux-x86_64 selects nothing (on aarch64), where splitter "
             "runs it too and so extracts the whole package zlib; add a pattern that selects "
             "this slice's files on every arch (one of its common patterns)"),
        (12, "slice 'libs': extra.linux-aarch64 selects nothing (on x86_64), where splitter "
             "runs it too and so extracts the whole package zlib; add a pattern that selects "
             "this slice's files on every arch (one of its common patterns)")]


def test_checking_one_sdf_reads_only_the_sdfs_its_deps_reach(tmp_path: Path) -> None:
    """A check of one SDF against a release's directory (propose does one before it
    writes) reads the SDFs its deps lead to, not all of them: an unrelated SDF that
    cannot even be parsed is never opened, while a cycle through the target is found."""
    from sdfgen.checks.base import CheckContext
    from sdfgen.checks.runner import run_checks
    from sdfgen.sdf.model import load_sdf, load_sdf_dir

    directory = _sdfs(tmp_path, glibc=GLIBC, unrelated="package: unrelated\nslices: [\n",
                      zlib="package: zlib\nslices:\n  libs:\n    deps: [glibc_libs, zlib_a]\n"
                           "    contents:\n      common:\n        /usr/lib64/libz.so.1:\n"
                           "  a:\n    deps: [zlib_libs]\n  copyright: {}\n")
    universe = load_sdf_dir(directory)
    assert "unrelated" in universe  # indexed by its package line, not parsed
    target = load_sdf(directory / "zlib.yaml")
    findings = run_checks(CheckContext((target,), universe))
    assert [f.message for f in findings if f.id == "dep-cycle"] == [
        "dependency cycle: zlib_a -> zlib_libs -> zlib_a"]
    assert not [f for f in findings if f.id.startswith("dep-unknown")]
