"""``builder probe``: the probe catalog and its user file, the traced needs and their
edits of SDFs, and the probe suite: every program of the sample repository (served over
HTTP on 127.0.0.1) run with its probes in an image of only the slice ``sdfgen propose
--all`` puts it in, in chroots on linux/amd64 and linux/arm64 (binfmt_misc).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from builder.platform import AMD64, ARM64
from builder.probe import ProbeRun, Program, SliceProbes, judge_run
from builder.probefix import TracedNeed, apply_needs, traced_needs
from builder.trace import PlatformTrace, Shipper, TracedPath
from sdfgen.errors import SdfError
from sdfgen.facts import FileKind, PackageFile
from sdfgen.sdf.model import PathRule, Sdf, SliceDef, SliceRef, load_sdf_dir
from sdfgen.sdf.probes import DEFAULT_PROBES, Probe, load_catalog

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")

# -- the catalog ----------------------------------------------------------------------

def test_shipped_catalog_has_probes_for_interpreters_and_tools() -> None:
    catalog = load_catalog()
    python = catalog.for_program("/usr/bin/python3.11")
    assert python.key == "python3" and catalog.for_program("/usr/bin/python3") is python
    assert "/usr/share/zoneinfo/Europe/Paris" in python.data
    assert any("import json, ssl, sqlite3" in " ".join(p.args) for p in python.probes)
    openssl = catalog.for_program("/usr/bin/openssl")
    assert [p.args[0] for p in openssl.probes][:3] == ["version", "req", "dgst"]
    assert catalog.for_program("/bin/rbash").key == "bash"
    unknown = catalog.for_program("/usr/bin/widget")
    assert unknown is DEFAULT_PROBES and unknown.any_of
    assert [p.args for p in unknown.probes] == [("--version",), ("--help",)]


def test_user_probes_come_first_and_replace_the_catalogs(tmp_path: Path) -> None:
    user = tmp_path / "probes.yml"
    user.write_text("version: 1\nprograms:\n  openssl:\n    probes:\n"
                    "      - args: [version]\n        output: '^OpenSSL'\n"
                    "  /opt/app/bin/*:\n    data: [/etc/app.conf]\n    probes:\n"
                    "      - {args: [--check], exit: 3, timeout: 5}\n", encoding="utf-8")
    catalog = load_catalog(user)
    openssl = catalog.for_program("/usr/bin/openssl")
    assert openssl.probes == (Probe(("version",), 0, "^OpenSSL"),)
    assert openssl.source == f"{user}:3"
    assert sum(entry.key == "openssl" for entry in catalog.entries) == 1
    app = catalog.for_program("/opt/app/bin/tool")
    assert app.probes == (Probe(("--check",), 3, None, 5.0),) and app.data == ("/etc/app.conf",)
    assert catalog.for_program("/usr/bin/tool") is DEFAULT_PROBES
    assert catalog.for_program("/usr/bin/python3").source == "catalog"


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n", "probes.yml: a probes file is a mapping with 'version' and 'programs'"),
    ("version: 2\nprograms: {a: {probes: [{args: []}]}}\n", "probes.yml:1: version must be 1"),
    ("version: 1\nprogram: {}\n", "probes.yml:2: unknown key 'program'"),
    ("version: 1\nprograms: []\n", "probes.yml:2: 'programs' must be a non-empty mapping"),
    ("version: 1\nprograms:\n  a:\n    probes: []\n",
     "probes.yml:4: programs.a.probes must be a non-empty list"),
    ("version: 1\nprograms:\n  a:\n    probe: []\n", "probes.yml:4: programs.a: unknown key"),
    ("version: 1\nprograms:\n  a:\n    data: [etc/x]\n    probes: [{args: []}]\n",
     "probes.yml:4: programs.a.data: 'etc/x' is not an absolute path"),
    ("version: 1\nprograms:\n  a:\n    probes:\n      - args: x\n",
     "probes.yml:5: programs.a.probes[0].args must be a list of strings"),
    ("version: 1\nprograms:\n  a:\n    probes:\n      - {args: [], exit: 300}\n",
     "probes.yml:5: programs.a.probes[0].exit must be an exit code 0-255, not 300"),
    ("version: 1\nprograms:\n  a:\n    probes:\n      - {args: [], output: '('}\n",
     "probes.yml:5: programs.a.probes[0].output: bad regex '('"),
    ("version: 1\nprograms:\n  a:\n    probes:\n      - {args: [], timeout: 0}\n",
     "probes.yml:5: programs.a.probes[0].timeout must be seconds"),
    ("version: 1\nprograms:\n  a:\n    probes:\n      - {args: [], stdin: x}\n",
     "probes.yml:5: programs.a.probes[0]: unknown key 'stdin'"),
])
def test_bad_probes_files_are_one_line_errors_with_file_and_line(
        tmp_path: Path, text: str, message: str) -> None:
    user = tmp_path / "probes.yml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(SdfError) as raised:
        load_catalog(user)
    shown = str(raised.value)
    assert "\n" not in shown
    assert shown.startswith(str(tmp_path) + "/") and message in shown, shown


def test_a_run_passes_on_its_exit_code_and_output() -> None:
    probe = Probe(("-c", "x"), 0, r"^42$")
    assert judge_run(0, "41\n42\n", "", probe) == (True, "exit code 0 and output matched")
    assert judge_run(1, "Traceback\nModuleNotFoundError: No module named 'x'\nmore\n", "",
                     probe) == (False, "exit code 1, expected 0: ModuleNotFoundError: No "
                                "module named 'x'")
    assert judge_run(0, "4242\n", "", probe)[0] is False
    assert judge_run(None, "", "no result within 5 s (killed)", probe) == (
        False, "no result within 5 s (killed)")


# -- traced needs -> SDF edits --------------------------------------------------------

def _sdf(package: str, slices: dict[str, tuple[str, ...]]) -> Sdf:
    return Sdf(package, slices={name: SliceDef(name, common=tuple(PathRule(p) for p in globs))
                                for name, globs in slices.items()})


SDFS = {
    "tool": _sdf("tool", {"bins": ("/usr/bin/tool",), "data": ("/usr/share/tool/a.dat",),
                          "mods": ("/usr/lib/tool/mods/*.so",),
                          "extra": ("/usr/lib/tool/extra/*.so",)}),
    "other": _sdf("other", {"config": ("/etc/other.conf",)}),
}
FILES = {
    "tool": {p: PackageFile(p, k, 0o755) for p, k in [
        ("/usr/bin/tool", FileKind.FILE), ("/usr/share/tool/a.dat", FileKind.FILE),
        ("/usr/share/tool/b.dat", FileKind.FILE), ("/usr/share/tool/orphan/x", FileKind.FILE),
        ("/usr/lib/tool", FileKind.DIR), ("/usr/lib/tool/mods", FileKind.DIR),
        ("/usr/lib/tool/mods/m.so", FileKind.FILE), ("/usr/lib/tool/extra/e.so", FileKind.FILE),
        ("/usr/share/tool/orphan", FileKind.DIR),
        ("/usr/lib/x86_64-linux-gnu/tool.cache", FileKind.FILE)]},
    "other": {"/etc/other.conf": PackageFile("/etc/other.conf", FileKind.FILE, 0o644),
              "/etc/unsliced": PackageFile("/etc/unsliced", FileKind.FILE, 0o644)},
}


def _shipped(path: str, package: str, slice_ref: str | None, ops: tuple[str, ...] = ("open",),
             in_image: bool = False) -> TracedPath:
    return TracedPath(path, "shipped", ops, 1, "ENOENT", shipped_by=(
        Shipper(package, f"{package}-1-1.x86_64", path, slice_ref, f"{package}.yaml",
                in_image),))


def _result(paths: tuple[TracedPath, ...], passed: bool = False) -> SliceProbes:
    ref = SliceRef("tool", "bins")
    program = Program("/usr/bin/tool", ref, ("x86_64",))
    trace = PlatformTrace(AMD64, ("/usr/bin/tool", "run"), 1, "", 0.1, "", paths)
    run = ProbeRun(program, AMD64, Probe(("run",)), ("/usr/bin/tool", "run"), passed, 1, "x",
                   "", 0.1, trace)
    return SliceProbes(ref, (ref,), (ref, SliceRef("tool", "copyright")), (run,), 0.1)


def _needs(*paths: TracedPath, passed: bool = False) -> set[tuple[str, str, str]]:
    found = traced_needs([_result(paths, passed)], SDFS, lambda package, _arch: FILES[package])
    return {(str(n.slice), n.kind, n.target) for n in found}


def test_a_failed_probe_turns_shipped_files_into_deps_and_contents() -> None:
    assert _needs(_shipped("/etc/other.conf", "other", "other_config")) == {
        ("tool_bins", "dep", "other_config")}
    # The package's own file no slice selects joins the slice of the files beside it.
    assert _needs(_shipped("/usr/share/tool/b.dat", "tool", None)) == {
        ("tool_data", "path", "/usr/share/tool/b.dat"), ("tool_bins", "dep", "tool_data")}
    # ... or the probed slice, when no slice selects a file beside it; the multiarch
    # directory becomes a glob, as SDFs write it.
    assert _needs(_shipped("/usr/lib/x86_64-linux-gnu/tool.cache", "tool", None)) == {
        ("tool_bins", "path", "/usr/lib/*-linux-gnu/tool.cache")}
    assert _needs(_shipped("/etc/unsliced", "other", None)) == {
        ("tool_bins", "unresolved", "other ships /etc/unsliced, but no slice of its SDF "
         "selects it")}
    assert _needs(_shipped("/etc/other.conf", "other", "other_config", in_image=True)) == set()


def test_directories_count_when_one_slice_holds_their_files() -> None:
    assert _needs(_shipped("/usr/lib/tool/mods", "tool", None, ("stat",))) == {
        ("tool_bins", "dep", "tool_mods")}
    # Files of two slices: the tracer cannot tell which the program wanted.
    assert _needs(_shipped("/usr/lib/tool", "tool", None, ("stat",))) == set()
    # A directory of files no slice selects counts when the program listed it.
    assert _needs(_shipped("/usr/share/tool/orphan", "tool", None, ("stat",))) == set()
    assert _needs(_shipped("/usr/share/tool/orphan", "tool", None, ("open",))) == {
        ("tool_bins", "path", "/usr/share/tool/orphan/**")}


def test_a_probe_that_passed_needs_nothing_more() -> None:
    assert _needs(_shipped("/etc/other.conf", "other", "other_config"), passed=True) == set()


def test_needs_are_written_with_their_comment_once(tmp_path: Path) -> None:
    sdf = tmp_path / "openssl.yaml"
    sdf.write_text("package: openssl\n\nslices:\n  bins:\n    deps:\n"
                   "      - glibc_libs  # NEEDED libc.so.6\n    contents:\n      common:\n"
                   "        /usr/bin/openssl:\n\n  data:\n    contents:\n      common:\n"
                   "        /usr/lib/ssl/openssl.cnf:\n# left out: docs\n", encoding="utf-8")
    dep = TracedNeed(SliceRef("openssl", "bins"), "dep", "openssl_data",
                     "/usr/lib/ssl/openssl.cnf", "open", "openssl req", "openssl",
                     "linux/amd64", ("x86_64", "aarch64"))
    path = TracedNeed(SliceRef("openssl", "data"), "path", "/usr/lib/*-linux-gnu/ossl.cnf",
                      "/usr/lib/x86_64-linux-gnu/ossl.cnf", "stat", "openssl req",
                      "openssl", "linux/amd64", ("x86_64",))
    assert dep.comment == "traced: openssl req opened /usr/lib/ssl/openssl.cnf"
    assert apply_needs([dep, path], tmp_path, ("x86_64", "aarch64")) == [dep, path]
    assert sdf.read_text(encoding="utf-8") == (
        "package: openssl\n\nslices:\n  bins:\n    deps:\n"
        "      - glibc_libs  # NEEDED libc.so.6\n"
        "      - openssl_data  # traced: openssl req opened /usr/lib/ssl/openssl.cnf\n"
        "    contents:\n      common:\n        /usr/bin/openssl:\n\n  data:\n    contents:\n"
        "      common:\n        /usr/lib/ssl/openssl.cnf:\n      extra:\n        linux-x86_64:\n"
        "          /usr/lib/*-linux-gnu/ossl.cnf:  # traced: openssl req looked up "
        "/usr/lib/x86_64-linux-gnu/ossl.cnf\n# left out: docs\n")
    assert apply_needs([dep, path], tmp_path, ("x86_64", "aarch64")) == []
    assert load_sdf_dir(tmp_path)["openssl"].slices["bins"].deps[-1] == SliceRef(
        "openssl", "data")


# -- real runs on the sample repository -----------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rpm-cache")


@pytest.fixture(scope="module")
def proposed(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str,
             cache: Path) -> Path:
    """SDFs from ``sdfgen propose --all`` on the sample repository."""
    from sdfgen.cli.app import main as sdfgen_main

    out = tmp_path_factory.mktemp("proposed") / "sdf"
    assert sdfgen_main(["propose", "--all", "--mirror", sample_mirror, "--cache-dir",
                        str(cache), "-o", str(out)]) == 0
    return out


def _probe(capsys: pytest.CaptureFixture[str], sdf_dir: Path, mirror: str, cache: Path,
           *args: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["probe", "--sdf-dir", str(sdf_dir), "--mirror", mirror, "--cache-dir",
                 str(cache), "--json", "-q", *args])
    return code, json.loads(capsys.readouterr().out)


@needs_root
@pytest.mark.slow
def test_probe_suite_every_program_passes_from_its_proposed_slice(
        proposed: Path, sample_mirror: str, cache: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The proof of the proposals: each program of the sample repository, in an image of
    only its proposed slice (plus the data its probes name), passes its probes on both
    arches, once what the traces find missing is written (--fix)."""
    sdf_dir = tmp_path / "sdf"
    shutil.copytree(proposed, sdf_dir)
    code, report = _probe(capsys, sdf_dir, sample_mirror, cache, "--fix")
    runs = [run for s in report["slices"] for run in s["runs"]]  # type: ignore[attr-defined]
    by_program: dict[str, dict[str, list[dict[str, object]]]] = {}
    for run in runs:
        by_program.setdefault(run["program"], {}).setdefault(run["platform"], []).append(run)
    assert {"/usr/bin/python3", "/usr/bin/python3.11", "/usr/bin/openssl", "/bin/bash",
            "/bin/sh", "/bin/busybox", "/usr/bin/iconv", "/usr/bin/locale",
            "/usr/bin/getent", "/usr/bin/zdump", "/usr/bin/env", "/bin/ls", "/usr/bin/awk",
            "/usr/bin/sqlite3", "/usr/bin/lua", "/usr/bin/curl", "/usr/bin/tzselect",
            "/usr/bin/bashbug", "/usr/bin/pdb3.11", "/usr/bin/pygettext3.11"} <= set(by_program)
    for program, platforms in sorted(by_program.items()):
        assert set(platforms) == {str(AMD64), str(ARM64)}, program
        bad = [r for rs in platforms.values() for r in rs if not r["passed"]]
        assert not bad, [(r["platform"], r["args"], r["reason"]) for r in bad]
    assert code == 0
    # Commands shell scripts run are found by the traces only (no static analysis of
    # shell): tzselect runs awk (gawk), bashbug mkdir (coreutils).
    written = {(n["slice"], n["target"]) for n in report["needs"]  # type: ignore[attr-defined]
               if n["written"]}
    assert {("glibc_tzselect", "gawk_awk"), ("bash_scripts", "coreutils_bins")} <= written
    # What --fix wrote keeps the proposals clean for check.
    from sdfgen.cli.app import main as sdfgen_main

    capsys.readouterr()
    assert sdfgen_main(["check", str(sdf_dir), "--mirror", sample_mirror, "--cache-dir",
                        str(cache)]) == 0, capsys.readouterr().out
    for need in report["needs"]:  # type: ignore[attr-defined]
        if need["written"]:
            assert f"# {need['comment']}" in (sdf_dir / f"{need['slice'].rsplit('_', 1)[0]}"
                                              ".yaml").read_text(encoding="utf-8")


@needs_root
@pytest.mark.slow
def test_fix_writes_the_dep_a_trace_finds_and_probes_again(
        proposed: Path, sample_mirror: str, cache: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """openssl req needs /usr/lib/ssl/openssl.cnf (openssl_data): with that dep taken
    out of the proposals, the probes fail, the trace finds it, --fix writes it back."""
    sdf_dir = tmp_path / "sdf"
    shutil.copytree(proposed, sdf_dir)
    libs = sdf_dir / "openssl-libs.yaml"
    text = libs.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True)
            if not line.lstrip().startswith(("- openssl_data", "# no SDF for openssl in"))]
    assert len(kept) < len(text.splitlines())
    libs.write_text("".join(kept), encoding="utf-8")
    code, before = _probe(capsys, sdf_dir, sample_mirror, cache, "openssl", "--trace")
    assert code == 1
    failed = [r for s in before["slices"] for r in s["runs"] if not r["passed"]]  # type: ignore[attr-defined]
    assert {r["platform"] for r in failed} == {str(AMD64), str(ARM64)}
    assert all('Can\'t open "/usr/lib/ssl/openssl.cnf"' in r["reason"] for r in failed)
    [need] = [n for n in before["needs"] if n["kind"] == "dep"]  # type: ignore[attr-defined]
    assert (need["slice"], need["target"], need["written"]) == (
        "openssl_bins", "openssl_data", False)
    code, after = _probe(capsys, sdf_dir, sample_mirror, cache, "openssl", "--fix")
    assert code == 0, after["slices"]
    assert after["rounds"] == 2 and after["totals"] == {
        str(AMD64): {"passed": 5, "run": 5}, str(ARM64): {"passed": 5, "run": 5}}
    assert "      - openssl_data  # traced: openssl req opened /usr/lib/ssl/openssl.cnf\n" in \
        (sdf_dir / "openssl.yaml").read_text(encoding="utf-8")


def test_bad_command_lines_are_one_line_errors(tmp_path: Path, sample_mirror: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "zlib.yaml").write_text("package: zlib\nslices:\n  libs:\n    contents:\n"
                                        "      common:\n        /usr/lib/libz.so.1:\n",
                                        encoding="utf-8")
    assert main(["probe", "--sdf-dir", str(tmp_path), "nosuch", "--mirror",
                 sample_mirror]) == 2
    assert capsys.readouterr().err.strip() == \
        f"error: {tmp_path}: no SDF for package 'nosuch'"
    (tmp_path / "probes.yml").write_text("version: 1\nprograms: {a: []}\n", encoding="utf-8")
    assert main(["probe", "--sdf-dir", str(tmp_path), "--mirror", sample_mirror]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path}/probes.yml:2: programs.a must be a mapping with 'probes'")
