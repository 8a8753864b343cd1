"""``sdfgen propose`` on the real sample repository (served over HTTP on 127.0.0.1).

Golden files: ``tests/sdfgen/slicing/golden/{package}.yaml`` hold the expected output of
``sdfgen propose PACKAGE -o FILE`` for openssl-libs, zlib and tzdata, compared byte for
byte. After an intended change of the output, regenerate them with

    SDFGEN_REGEN_GOLDEN=1 .venv/bin/python -m pytest -q tests/sdfgen/slicing/test_propose.py

and review the diff (``git diff tests/sdfgen/slicing/golden``) before committing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from sdfgen.cli.app import main
from sdfgen.rpm.session import RepoOptions, open_session
from sdfgen.sdf.globs import Reading, agrees, matches, select
from sdfgen.slicing.emit import emit
from sdfgen.slicing.placement import place
from sdfgen.slicing.proposer import Proposer

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "sdf"
GOLDEN_PACKAGES = ("openssl-libs", "zlib", "tzdata")
ARCHES = ("x86_64", "aarch64")
TRIPLET = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}




@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("propose-cache"))


def _propose(sample_mirror: str, cache: str, *args: str) -> int:
    return main(["propose", *args, "--mirror", sample_mirror, "--cache-dir", cache])


def _selected(patterns: dict | None, path: str) -> bool:
    return any(matches(p, path) for p in (patterns or {}))


def _applies(slice_: dict, arch: str) -> dict:
    contents = slice_.get("contents") or {}
    extra = (contents.get("extra") or {}).get(f"linux-{arch}") or {}
    return {**(contents.get("common") or {}), **extra}


def test_openssl_libs(sample_mirror: str, cache: str, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "openssl-libs.yaml"
    assert _propose(sample_mirror, cache, "openssl-libs", "-o", str(out)) == 0
    err = capsys.readouterr().err
    assert "openssl-libs: no SDF for glibc in --sdf-dir; assumed glibc_libs" in err
    text = out.read_text()
    doc = yaml.safe_load(text)
    assert doc["package"] == "openssl-libs"
    assert doc["deps"] == ["openssl-libs_copyright"]
    assert list(doc["slices"]) == ["libs", "copyright"]
    libs = doc["slices"]["libs"]
    # libcrypto names OPENSSLDIR's files (/usr/lib/ssl/cert.pem, a symlink to the CA
    # bundle): deps on the slices that hold them, each saying why.
    assert libs["deps"] == ["ca-certificates_config", "glibc_libs", "openssl_data",
                            "openssl-libs_copyright"]
    assert "- glibc_libs  # libcrypto.so.3 NEEDED libc.so.6" in text
    assert ("- openssl_data  # opens /usr/lib/ssl/cert.pem (a path in "
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3)") in text
    assert ("- ca-certificates_config  # opens /usr/lib/ssl/cert.pem -> "
            "/etc/ssl/certs/ca-certificates.crt (a path in ") in text
    for arch in ARCHES:
        lib_dir = f"/usr/lib/{TRIPLET[arch]}"
        patterns = _applies(libs, arch)
        for name in ("libssl.so.3", "libcrypto.so.3", "engines-3/afalg.so",
                     "engines-3/padlock.so", "engines-3/loader_attic.so",
                     "ossl-modules/legacy.so"):
            assert _selected(patterns, f"{lib_dir}/{name}"), (arch, name)
        assert not _selected(patterns, "/usr/share/doc/libssl3/changelog.gz")
        copyright_ = _applies(doc["slices"]["copyright"], arch)
        assert list(copyright_) == ["/usr/share/licenses/openssl-libs/libssl3.copyright"]
    # Left-out files are listed with their reason, and the header names both builds.
    assert "#   %doc file:\n#     /usr/share/doc/libssl3/ (2): changelog.Debian.gz, " in text
    assert "# x86_64: openssl-libs-3.0.22-1~deb12u2.oe2403.x86_64" in text
    assert "# aarch64: openssl-libs-3.0.22-1~deb12u2.oe2403.aarch64" in text


@pytest.mark.parametrize("package", GOLDEN_PACKAGES)
def test_golden(package: str, sample_mirror: str, cache: str, tmp_path: Path) -> None:
    out = tmp_path / f"{package}.yaml"
    assert _propose(sample_mirror, cache, package, "-o", str(out)) == 0
    golden = GOLDEN / f"{package}.yaml"
    if os.environ.get("SDFGEN_REGEN_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes(), (
        f"{package}: output differs from {golden}; if intended, regenerate "
        "(see this module's docstring)")
    assert yaml.safe_load(out.read_text())["package"] == package


def test_tzdata_by_region_and_glibc_bins(sample_mirror: str, cache: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _propose(sample_mirror, cache, "tzdata", "glibc", "-o", "-") == 0
    tzdata, glibc = yaml.safe_load_all(capsys.readouterr().out)
    regions = set(tzdata["slices"])
    assert {"africa", "america", "asia", "europe", "pacific", "base", "copyright"} <= regions
    assert "/usr/share/zoneinfo/Africa/**" in tzdata["slices"]["africa"]["contents"]["common"]
    assert "tzdata_america" in tzdata["slices"]["brazil"]["deps"]  # Brazil/* link there
    # Asia/Istanbul -> Europe and Europe/Nicosia -> Asia would make a dep ring: one link
    # moves to its target's slice instead.
    asia, europe = tzdata["slices"]["asia"], tzdata["slices"]["europe"]
    assert not ("tzdata_europe" in (asia.get("deps") or [])
                and "tzdata_asia" in (europe.get("deps") or []))
    slices = glibc["slices"]
    for binary in ("getconf", "getent", "iconv", "ldconfig", "zdump"):
        assert binary in slices, binary
    assert "glibc_libs" in slices["getent"]["deps"]
    assert "bash_bins" in slices["ldd"]["deps"]  # a bash script
    assert "locale-bin" in slices and "locale" in slices  # no clash with the locale data
    assert list(slices)[0] == "libs" and list(slices)[-1] == "copyright"
    libs_x86 = _applies(slices["libs"], "x86_64")
    libs_arm = _applies(slices["libs"], "aarch64")
    assert _selected(libs_x86, "/lib64/ld-linux-x86-64.so.2")
    assert _selected(libs_arm, "/lib/ld-linux-aarch64.so.1")
    assert not _selected(libs_x86, "/lib/ld-linux-aarch64.so.1")


def test_deterministic(sample_mirror: str, cache: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert _propose(sample_mirror, cache, "glibc", "bash", "-o", "-") == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "\n---\n" in outputs[0]


def test_no_model_is_rules_only(sample_mirror: str, cache: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _propose(sample_mirror, cache, "libstdc++", "-o", "-") == 0
    with_model = capsys.readouterr().out
    # The model's decisions show as '# model:' on kept files or in the left-out list
    # (libstdc++'s gdb printers: the model is sure they are data where the rules guess).
    assert "  # model: " in with_model or "the model decided" in with_model
    assert _propose(sample_mirror, cache, "libstdc++", "--no-model", "-o", "-") == 0
    rules_only = capsys.readouterr().out
    assert "  # model: " not in rules_only and "the model decided" not in rules_only
    assert "rules only (--no-model)" in rules_only
    assert "# uncertain: " in rules_only


def test_existing_sdf_names_the_dep(sample_mirror: str, cache: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    sdf_dir = tmp_path / "sdfs"
    sdf_dir.mkdir()
    (sdf_dir / "glibc.yaml").write_text(
        "package: glibc\nslices:\n  runtime:\n    contents:\n      common:\n"
        "        /lib/*-linux-gnu/libc.so.6:\n        /lib/*-linux-gnu/ld-linux-*.so.*:\n")
    out = tmp_path / "out"
    assert _propose(sample_mirror, cache, "zlib", "--sdf-dir", str(sdf_dir),
                    "-o", str(out) + "/") == 0
    captured = capsys.readouterr()
    assert "assumed" not in captured.err
    doc = yaml.safe_load((out / "zlib.yaml").read_text())
    # The licence goes with the slice too: splitter cuts no top-level deps.
    assert doc["slices"]["libs"]["deps"] == ["glibc_runtime", "zlib_copyright"]


def _hand_edited(text: str) -> str:
    """A human's edit: slice renamed, a comment added, the libssl line removed."""
    text = text.replace("  libs:\n", "  # the crypto runtime, keep it small\n  core:\n")
    lines = [line for line in text.splitlines(keepends=True) if "libssl.so" not in line]
    return "".join(lines).replace("openssl-libs_copyright\n",
                                  "openssl-libs_copyright  # hand comment\n", 1)


# openssl's configuration alone (its bins would depend on the openssl-libs slice the
# test renames).
OPENSSL_CONFIG = """\
package: openssl
deps:
  - openssl_copyright
slices:
  config:
    deps:
      - ca-certificates_bundle
      - openssl_copyright
    contents:
      common:
        /etc/ssl/openssl.cnf:
        /usr/lib/ssl/*:
  copyright:
    contents:
      common:
        /usr/share/licenses/openssl/*:
"""


def test_update_keeps_the_human_work(sample_mirror: str, cache: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: a path or slice the reviewer removed never comes back; a pattern that
    selects nothing is reported, and a result check would reject is not written."""
    sdf_dir = tmp_path / "sdfs"
    sdf_dir.mkdir()
    # The providers' SDFs are there too: the result must pass check, deps and all
    # (libcrypto's OPENSSLDIR files come from openssl and ca-certificates).
    for provider in ("glibc", "ca-certificates"):
        shutil.copy(SAMPLES / f"{provider}.yaml", sdf_dir)
    (sdf_dir / "openssl.yaml").write_text(OPENSSL_CONFIG)
    sdf = sdf_dir / "openssl-libs.yaml"
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir)) == 0
    capsys.readouterr()
    proposed = sdf.read_text().split("\n# Left out")[0].rstrip("\n") + "\n"
    sdf.write_text(_hand_edited(proposed) + "        /usr/lib64/libgone.so.*:\n")
    before = sdf.read_text()
    assert "libssl.so" not in before
    # The header names the repository's build: nothing is new, nothing would change.
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir),
                    "--check") == 0
    assert "vanished: slices.copyright: /usr/lib64/libgone.so.*" in capsys.readouterr().err
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir)) == 0
    assert sdf.read_text() == before  # libssl and the libs slice stay out
    assert capsys.readouterr().out == ""
    # A header naming an older build (gone from the repositories, no digests): refreshed,
    # but the result would fail check (libgone selects nothing): refused, with the reason.
    stale = "\n".join(line for line in before.replace("1~deb12u2.oe2403", "1~deb12u1.oe2403")
                      .splitlines() if not line.startswith(("# file lists", "#   "))) + "\n"
    sdf.write_text(stale)
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir)) == 1
    err = capsys.readouterr().err
    assert f"{sdf}: not updated: the result fails sdfgen check (1 error(s)):" in err
    assert "E: glob-matches-nothing slice 'copyright': /usr/lib64/libgone.so.*" in err
    assert "no file counted as new" in err
    assert sdf.read_text() == stale
    sdf.write_text(stale.replace("        /usr/lib64/libgone.so.*:\n", ""))
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir)) == 0
    captured = capsys.readouterr()
    after = sdf.read_text()
    assert "+# x86_64: openssl-libs-3.0.22-1~deb12u2.oe2403.x86_64" in captured.out  # diff
    assert "libssl.so" not in after and "deb12u1" not in after
    doc = yaml.safe_load(after)
    assert "libs" not in doc["slices"] and "core" in doc["slices"]
    assert "# the crypto runtime, keep it small" in after
    assert "openssl-libs_copyright  # hand comment" in after
    # Now current: a second run changes nothing, byte for byte, and --check says 0.
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir),
                    "--check") == 0
    assert _propose(sample_mirror, cache, "openssl-libs", "--sdf-dir", str(sdf_dir)) == 0
    assert sdf.read_text() == after
    assert capsys.readouterr().out == ""
    assert main(["check", str(sdf_dir), "--mirror", sample_mirror, "--cache-dir", cache]) == 0


def test_untouched_sdf_round_trips(sample_mirror: str, cache: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    sdf_dir = tmp_path / "sdfs"
    assert _propose(sample_mirror, cache, "tzdata", "zlib", "-o", str(sdf_dir) + "/") == 0
    before = {p.name: p.read_bytes() for p in sdf_dir.iterdir()}
    assert _propose(sample_mirror, cache, "tzdata", "zlib", "--sdf-dir", str(sdf_dir),
                    "--check") == 0
    assert _propose(sample_mirror, cache, "tzdata", "zlib", "--sdf-dir", str(sdf_dir)) == 0
    assert {p.name: p.read_bytes() for p in sdf_dir.iterdir()} == before
    assert capsys.readouterr().out == ""


def test_check_new_file(sample_mirror: str, cache: str, tmp_path: Path) -> None:
    out = tmp_path / "zlib.yaml"
    assert _propose(sample_mirror, cache, "zlib", "-o", str(out), "--check") == 1
    assert not out.exists()
    assert _propose(sample_mirror, cache, "zlib", "-o", str(out)) == 0
    assert _propose(sample_mirror, cache, "zlib", "-o", str(out), "--check") == 0


def test_all_packages_and_every_glob(sample_mirror: str, cache: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--all writes one valid SDF per package; every glob that any of them holds selects
    exactly its slice's files, the same under splitter's and chisel's reading."""
    out = tmp_path / "all"
    assert _propose(sample_mirror, cache, "--all", "-o", str(out)) == 0
    options = RepoOptions(mirror=sample_mirror, cache_dir=Path(cache))
    globs_checked = 0
    with open_session(options) as session:
        proposer = Proposer(session)
        names = proposer.all_names()
        assert sorted(p.stem for p in out.glob("*.yaml")) == names
        for name in names:
            proposal = proposer.propose(name)
            written = (out / f"{name}.yaml").read_text()
            assert written == emit(proposal)
            doc = yaml.safe_load(written)
            assert doc["package"] == name
            plan = proposer.plan(name)
            for slice_ in proposal.slices:
                members = plan.members(slice_.name)
                for arch in proposal.arches:
                    every = proposal.file_lists[arch]
                    dirs = {p for p, f in plan.files[arch].items() if f.kind.value == "dir"}
                    chosen: set[str] = set()
                    for line in slice_.paths:
                        placement = line.placement
                        if placement.platform not in (None, f"linux-{arch}"):
                            continue
                        pattern = placement.pattern
                        assert agrees(pattern, every), (name, pattern)
                        for reading in Reading:
                            selected = select(pattern, every, reading) - dirs
                            assert selected == set(placement.paths(arch)), (name, pattern)
                        globs_checked += "*" in pattern or "?" in pattern
                        chosen |= set(placement.paths(arch))
                    assert chosen == members[arch], (name, slice_.name, arch)
    assert globs_checked > 100
    # ... and the whole proposed release passes sdfgen check against the repository,
    # every file a program opens by name within its slice's closure.
    capsys.readouterr()
    assert main(["check", str(out), "--mirror", sample_mirror, "--cache-dir", cache]) == 0
    assert "opened-not-in-closure" not in capsys.readouterr().out


def test_placement_refuses_globs_that_overreach() -> None:
    lists = {"x86_64": ["/usr/lib/x86_64-linux-gnu/libfoo.so.1",
                        "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2"],
             "aarch64": ["/usr/lib/aarch64-linux-gnu/libfoo.so.1"]}
    members = {"x86_64": {"/usr/lib/x86_64-linux-gnu/libfoo.so.1"},
               "aarch64": {"/usr/lib/aarch64-linux-gnu/libfoo.so.1"}}
    placed = place(members, lists, ARCHES)
    # libfoo.so.* would take the left-out libfoo.so.1.2 on x86_64: the triplet glob only.
    assert [(p.pattern, p.platform) for p in placed] == [
        ("/usr/lib/*-linux-gnu/libfoo.so.1", None)]
    # A glob whose readings differ (splitter's * crosses '/') is not used either.
    lists = {"x86_64": ["/lib/libz.so.1", "/lib/libz.so.1/odd"]}
    placed = place({"x86_64": {"/lib/libz.so.1", "/lib/libz.so.1/odd"}}, lists, ("x86_64",))
    assert [p.pattern for p in placed] == ["/lib/libz.so.1", "/lib/libz.so.1/odd"]


def test_literal_path_with_glob_characters() -> None:
    lists = {"x86_64": ["/usr/share/x/[a].txt", "/usr/share/x/a.txt"]}
    placed = place({"x86_64": {"/usr/share/x/[a].txt"}}, lists, ("x86_64",))
    assert [p.pattern for p in placed] == ["/usr/share/x/?a?.txt"]
    assert select("/usr/share/x/?a?.txt", lists["x86_64"]) == {"/usr/share/x/[a].txt"}


@pytest.mark.parametrize(("args", "message"), [
    ([], "no package given"),
    (["zlib", "--all"], "give package names or --all, not both"),
    (["--all"], "--all writes one file per package: give -o DIR or --sdf-dir"),
    (["zlib", "--update"], "--update needs --sdf-dir"),
    (["zlib", "--sdf-dir", "/nonexistent/sdfs"], "--sdf-dir /nonexistent/sdfs: not a directory"),
    (["no-such-package"], "no package 'no-such-package'"),
])
def test_bad_input(args: list[str], message: str, sample_mirror: str, cache: str,
                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _propose(sample_mirror, cache, *args) == 2
    assert message in capsys.readouterr().err


def test_python3_runs_from_its_interpreter_slice(sample_mirror: str, cache: str,
                                                 tmp_path: Path) -> None:
    """Issue 9: the interpreter's slice depends on the standard library it starts with,
    never the reverse; heavy optional extension modules are slices of their own; test
    suites and environment templates are left out; no slice name carries a version."""
    out = tmp_path / "python3.yaml"
    assert _propose(sample_mirror, cache, "python3", "-o", str(out)) == 0
    text = out.read_text()
    doc = yaml.safe_load(text)
    slices = doc["slices"]
    assert not [name for name in slices if any(c.isdigit() for c in name.split("3", 1)[-1])]
    assert {"python3", "pydoc3", "pdb3", "lib-dynload", "dbm", "nis", "curses", "readline",
            "test-modules"} <= set(slices)
    interpreter = slices["python3"]
    for arch in ARCHES:
        patterns = _applies(interpreter, arch)
        assert _selected(patterns, "/usr/bin/python3")
        assert _selected(patterns, "/usr/bin/python3.11")
    assert {"python3_libs", "python3_lib-dynload"} <= set(interpreter["deps"])
    assert ("- python3_libs  # python3.11 starts with its library in /usr/lib/python3.11/"
            in text)
    # Library code with a shebang (base64.py) is imported, not run: no dep back.
    assert "python3_python3" not in slices["libs"]["deps"]
    assert "python3_python3" in slices["pydoc3"]["deps"]
    # '#!/usr/bin/env python3': env (coreutils) and the python3 env finds in PATH; for
    # pdb3.11 through its symlink to the stdlib's pdb.py.
    for program in ("pdb3", "pygettext3"):
        assert {"coreutils_bins", "python3_python3"} <= set(slices[program]["deps"]), program
    assert "- python3_python3  # pdb3.11 script interpreter /usr/bin/env python3" in text
    assert "- coreutils_bins  # pygettext3.11 script interpreter /usr/bin/env" in text
    selected = {name: _applies(slice_, "x86_64") for name, slice_ in slices.items()}
    dynload = "/usr/lib/python3.11/lib-dynload/{}.cpython-311-x86_64-linux-gnu.so"
    for module, slice_ in (("_ssl", "lib-dynload"), ("_sqlite3", "lib-dynload"),
                           ("_dbm", "dbm"), ("nis", "nis"), ("_curses", "curses"),
                           ("readline", "readline"), ("_testcapi", "test-modules")):
        assert [n for n, p in selected.items() if _selected(p, dynload.format(module))] == [
            slice_], module
    # The optional modules' libraries come only with their slices.
    assert "libdb_libs" not in slices["lib-dynload"]["deps"]
    assert "libdb_libs" in slices["dbm"]["deps"]
    for left_out in ("/usr/lib/python3.11/test/support/__init__.py",
                     "/usr/lib/python3.11/test/regrtest.py",
                     "/usr/lib/python3.11/venv/scripts/common/activate"):
        assert not [n for n, p in selected.items() if _selected(p, left_out)], left_out
    assert "#   test suite (not needed at run time):" in text


def test_a_file_named_with_glob_characters_is_said_by_name(sample_mirror: str, cache: str,
                                                           tmp_path: Path) -> None:
    """coreutils' /usr/bin/[ is written /usr/bin/? (a pattern that selects exactly it
    under both splitter's and sdfgen's reading); the comment names the file."""
    out = tmp_path / "coreutils.yaml"
    assert _propose(sample_mirror, cache, "coreutils", "-o", str(out)) == 0
    text = out.read_text()
    assert "        /usr/bin/?:  # the file /usr/bin/[ ('?' stands for its glob characters)\n" \
        in text
    bins = yaml.safe_load(text)["slices"]["bins"]
    for arch in ARCHES:
        assert _selected(_applies(bins, arch), "/usr/bin/[")
