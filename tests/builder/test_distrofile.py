"""Distrofile validation and slice closure: good files, every bad-input message."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.closure import resolve_closure
from builder.distrofile import MAX_NAME_LENGTH, load_distrofile
from builder.errors import BuildError
from builder.platform import AMD64, ARM64
from sdfgen.errors import ConfigError
from sdfgen.sdf.model import load_sdf_dir, parse_slice_ref

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
GOOD = """\
name: demo
summary: a demo
base: scratch
release: 24.03-LTS
platforms:
  - linux/amd64
  - linux/arm64
parts:
  - glibc_libs
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_distrofile(tmp_path: Path) -> None:
    spec = load_distrofile(write(tmp_path, GOOD + "entrypoint: [/usr/bin/hello]\n"
                                 "env: [LANG=C.UTF-8]\nfiles:\n"
                                 "  - {src: 'apps/{arch}/hello', dest: /usr/bin/hello, "
                                 "mode: '0755'}\nsmoke:\n  - expect_output: hello\n"))
    assert spec.name == "demo"
    assert spec.platforms == (AMD64, ARM64)
    assert [str(p) for p in spec.parts] == ["glibc_libs"]
    assert spec.entrypoint == ("/usr/bin/hello",)
    assert spec.files[0].mode == 0o755
    assert spec.files[0].source_for(tmp_path, "aarch64") == tmp_path / "apps/aarch64/hello"
    assert spec.smoke[0].expect_output == "hello"


@pytest.mark.parametrize("name", ["static", "base", "cc", "openssl", "python"])
def test_samples_load_and_close(name: str) -> None:
    spec = load_distrofile(SAMPLES / "distrofiles" / f"{name}.yaml")
    closure = resolve_closure(spec.parts, load_sdf_dir(SAMPLES / "sdf"), source=spec.path)
    refs = {str(ref) for ref in closure.slices}
    # every package's copyright slice comes in through its SDF's top-level deps
    assert all(f"{package}_copyright" in refs for package in closure.packages)
    assert spec.smoke, "every sample has smoke checks"


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("platforms:\n  - linux/amd64\n  - linux/arm64\n",
                  "platforms: linux/amd64\n"),
     "demo.yaml:5: 'platforms' must be a list, not a string"),
    (GOOD + "colour: blue\n", "demo.yaml:10: unknown key 'colour'"),
    (GOOD.replace("base: scratch", "base: openeuler"),
     "demo.yaml:3: 'base' 'openeuler' is not supported; only 'scratch'"),
    (GOOD.replace("  - linux/arm64\n", "  - linux/s390x\n"),
     "demo.yaml:7: 'platforms': platform 'linux/s390x': unsupported"),
    (GOOD.replace("  - glibc_libs\n", "  - glibc\n"),
     "demo.yaml:9: 'parts': 'glibc' is not a slice reference"),
    (GOOD.replace("parts:\n  - glibc_libs\n", ""), "demo.yaml: missing key 'parts'"),
    (GOOD + "files:\n  - {src: a, dest: /b, mode: 0755}\n",
     "'files' entry 1: 'mode' must be an octal string such as \"0755\""),
    (GOOD + "files:\n  - {src: a, dest: ../b}\n",
     "'files' entry 1: 'dest' '../b' must be an absolute, normalized file path"),
    (GOOD + "smoke:\n  - {command: ls, expect_exit: 0}\n",
     "'smoke command' must be a list, not a string"),
    ("- a\n- b\n", "demo.yaml: a Distrofile is a map of keys, not a list"),
    ("name: [\n", "demo.yaml:2: not valid YAML"),
    # Duplicate keys: splitter (PyYAML) takes the last, ruamel the first; refused.
    (GOOD + "name: other\n", "demo.yaml:10: key 'name' repeats line 1; YAML readers "
     "disagree on which one counts"),
    (GOOD + "parts:\n  - zlib_libs\n", "demo.yaml:10: key 'parts' repeats line 8"),
    (GOOD + "labels:\n  a: b\n  a: c\n", "demo.yaml:12: key 'a' repeats line 11"),
    # The name goes into the image tags (localhost/sdfgen/NAME:latest-ARCH) and the file
    # name NAME-ARCH.tar.
    (GOOD.replace("name: demo", 'name: "de\\0mo"'),
     "demo.yaml:1: 'name' 'de\\x00mo' is not a usable image name (lower-case letters and "
     "digits, separated by '.', '_', '__' or '-'; no '/')"),
    (GOOD.replace("name: demo", "name: a/b"), "demo.yaml:1: 'name' 'a/b' is not a usable"),
    (GOOD.replace("name: demo", "name: ../up"), "demo.yaml:1: 'name' '../up' is not a usable"),
    (GOOD.replace("name: demo", "name: Demo"), "demo.yaml:1: 'name' 'Demo' is not a usable"),
    (GOOD.replace("name: demo", "name: ''"), "demo.yaml:1: 'name' '' is not a usable"),
    (GOOD.replace("name: demo", "name: " + "a" * 300),
     "demo.yaml:1: 'name' is 300 characters long; an image name here has at most 128"),
])
def test_bad_distrofile(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_distrofile(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_closure_follows_slice_and_top_level_deps() -> None:
    sdfs = load_sdf_dir(SAMPLES / "sdf")
    closure = resolve_closure([parse_slice_ref("openssl_bins")], sdfs, source="x.yaml")
    assert [str(r) for r in closure.slices] == [
        "glibc_loader", "glibc_libs", "glibc_copyright",
        "openssl_bins", "openssl_config", "openssl_copyright",
        "openssl-libs_libs", "openssl-libs_copyright",
    ]


def test_closure_missing_slice_names_the_part(tmp_path: Path) -> None:
    sdfs = load_sdf_dir(SAMPLES / "sdf")
    with pytest.raises(BuildError) as info:
        resolve_closure([parse_slice_ref("openssl-libs_libz", 9)], sdfs, source="base.yaml")
    assert str(info.value).startswith("base.yaml:9: part openssl-libs_libz: no such slice "
                                      "'libz' in openssl-libs.yaml")


def test_closure_missing_sdf_names_the_part() -> None:
    sdfs = load_sdf_dir(SAMPLES / "sdf")
    with pytest.raises(BuildError, match=r"^base\.yaml:3: part nosuch_libs: no SDF for "
                       r"package 'nosuch'"):
        resolve_closure([parse_slice_ref("nosuch_libs", 3)], sdfs, source="base.yaml")


def test_closure_missing_dep_names_the_sdf_slice(tmp_path: Path) -> None:
    sdf_dir = tmp_path / "sdf"
    sdf_dir.mkdir()
    for path in (SAMPLES / "sdf").glob("*.yaml"):
        (sdf_dir / path.name).write_text(path.read_text())
    text = (sdf_dir / "openssl-libs.yaml").read_text()
    (sdf_dir / "openssl-libs.yaml").write_text(text.replace("      - glibc_libs\n",
                                                            "      - glibc_libz\n"))
    with pytest.raises(BuildError) as info:
        resolve_closure([parse_slice_ref("openssl-libs_libs")], load_sdf_dir(sdf_dir),
                        source="base.yaml")
    assert str(info.value).startswith("openssl-libs.yaml:9: slice libs deps on glibc_libz: "
                                      "no such slice 'libz' in glibc.yaml")


def test_closure_refuses_sdf_with_schema_problems(tmp_path: Path) -> None:
    (tmp_path / "zz.yaml").write_text("package: zz\nslices:\n  libs:\n    contents:\n"
                                      "      common:\n        - /usr/lib/libzz.so\n")
    with pytest.raises(BuildError, match=r"^zz\.yaml:5: slice 'libs' contents.common is a "
                       "list"):
        resolve_closure([parse_slice_ref("zz_libs")], load_sdf_dir(tmp_path), source="d.yaml")


@pytest.mark.parametrize("name", ["a", "my-app", "my_app.v2", "a__b", "x" * MAX_NAME_LENGTH])
def test_image_names_docker_accepts(tmp_path: Path, name: str) -> None:
    assert load_distrofile(write(tmp_path, GOOD.replace("name: demo", f"name: {name}"))).name \
        == name


ALIAS_BOMB = GOOD + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
MERGE_BOMB = GOOD + "m0: &m0 {k: x}\n" + "".join(
    f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 9) + "]}\n" for i in range(1, 9))


@pytest.mark.parametrize(("text", "message"), [
    (ALIAS_BOMB, "demo.yaml:14: aliases over the limit for a YAML input (28 aliases"),
    (MERGE_BOMB, "demo.yaml:14: aliases over the limit for a YAML input (30 aliases "
     "standing for 10134 nodes so far"),
    (GOOD + "labels: " + "[" * 1000 + "]" * 1000 + "\n",
     "demo.yaml:10: nested deeper than the limit of 64 levels for a YAML input"),
    (GOOD + "summary: &s [*s]\n", "demo.yaml:10: alias *s refers to a node that contains it"),
])
def test_hostile_distrofile_is_refused_by_the_loader(tmp_path: Path, text: str,
                                                     message: str) -> None:
    """The YAML limits come before the Distrofile's own keys (the bombs use unknown ones)."""
    with pytest.raises(ConfigError) as info:
        load_distrofile(write(tmp_path, text))
    assert str(info.value).startswith(f"{tmp_path / 'demo.yaml'}:")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", [ALIAS_BOMB, MERGE_BOMB, GOOD + "name: again\n",
                                  GOOD.replace("name: demo", "name: " + "a" * 300)],
                         ids=["aliases", "merge-keys", "duplicate", "long-name"])
def test_builder_build_refuses_with_one_line(tmp_path: Path, text: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """As the user meets it: exit 2, one line naming the Distrofile, nothing written."""
    spec = write(tmp_path, text)
    out = tmp_path / "out"
    code = main(["build", str(spec), "-o", str(out), "--repo", str(tmp_path / "no-repo"),
                 "--cache-dir", str(tmp_path / "cache"), "-q"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith(f"error: {spec}:")
    assert captured.err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "cache").exists()
