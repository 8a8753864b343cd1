"""The SDF model and the round-trip YAML document: corpus files, edits, bad input."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from sdfgen.errors import SdfgenError
from sdfgen.sdf.document import (
    SdfEditError,
    add_dep,
    add_path,
    add_slice,
    add_top_dep,
    dump_document,
    emit_document,
    load_document,
    parse_document,
    write_atomic,
)
from sdfgen.sdf.globs import Reading
from sdfgen.sdf.model import (
    PathRule,
    SdfError,
    SliceRef,
    load_sdf,
    load_sdf_dir,
    parse_slice_ref,
    patterns_for,
    selected_paths,
    slice_of_path,
)

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "openeuler-sdf"
CORPUS_FILES = sorted(CORPUS.glob("*.yaml"))
# Layouts no YAML emitter reproduces: a flow map of value-less entries
# ({"symlink", "/etc/pki/java/cacerts"}) and a plain scalar folded over two lines.
NOT_REEMITTABLE = {"java-21-openjdk-headless.yaml"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_corpus_is_there() -> None:
    assert len(CORPUS_FILES) == 42


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_round_trips_byte_identically(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = load_document(path)
    assert dump_document(doc) == text
    if path.name not in NOT_REEMITTABLE:
        # Not only "unchanged, so returned as read": ruamel's own output matches too.
        assert emit_document(doc) == text


def test_unreemittable_layout_is_kept_until_edited() -> None:
    path = CORPUS / "java-21-openjdk-headless.yaml"
    doc = load_document(path)
    assert emit_document(doc) != path.read_text()
    assert dump_document(doc) == path.read_text()
    add_path(doc, "core", "/usr/lib/jvm/x")
    assert "/usr/lib/jvm/x:" in dump_document(doc)


def _diff(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines())
            if line[:1] in "+-"]


def test_edits_keep_comments_order_and_blank_lines() -> None:
    path = CORPUS / "nss.yaml"
    before = path.read_text()
    doc = load_document(path)
    assert add_path(doc, "libs", "/usr/lib64/libnssckbi.so")
    assert not add_path(doc, "nss", "/usr/lib64/libnss3.so")  # already there
    assert add_path(doc, "nss", "/usr/lib64/x86only.so", arch="x86_64")
    assert add_dep(doc, "smime", "nss-util_libs")
    assert add_top_dep(doc, "glibc_copyright")
    after = dump_document(doc)
    assert _diff(before, after) == [
        "+   - glibc_copyright",
        "+     contents:",
        "+       common:",
        "+         /usr/lib64/libnssckbi.so:",
        "+       extra:",
        "+         linux-x86_64:",
        "+           /usr/lib64/x86only.so:",
        "+       - nss-util_libs",
    ]
    # Blank lines between slices stay between slices.
    assert "      - nss_smime\n    contents:\n" in after
    assert "/usr/lib64/x86only.so:\n\n  smime:\n" in after
    assert "  - nss_copyright\n  - glibc_copyright\n\nslices:\n" in after


def test_edited_document_parses_to_the_intended_model(tmp_path: Path) -> None:
    doc = load_document(CORPUS / "python3.yaml")
    add_slice(doc, "tools")
    add_path(doc, "tools", "/usr/bin/2to3-3.11")
    add_path(doc, "utils", "/usr/bin/pdb3.11")
    add_dep(doc, "tools", "python3_stdlib")
    out = _write(tmp_path, "python3.yaml", dump_document(doc))
    sdf = load_sdf(out)
    assert list(sdf.slices)[-1] == "tools"
    tools = sdf.slices["tools"]
    assert tools.deps == (SliceRef("python3", "stdlib"),)
    assert tools.common == (PathRule("/usr/bin/2to3-3.11"),)
    assert PathRule("/usr/bin/pdb3.11") in sdf.slices["utils"].common
    text = out.read_text()
    # The (无) comment lines and the long header comment survive.
    assert "#      /usr/bin/pygettext3.11:(无)" in text
    assert text.startswith("package: python3\n\n# The parts in this download")
    assert "\n\n  tools:\n    deps:\n      - python3_stdlib\n" in text


def test_edit_of_a_file_without_final_newline() -> None:
    doc = load_document(CORPUS / "zlib.yaml")
    add_path(doc, "libs", "/usr/lib64/libz.a")
    assert dump_document(doc).endswith("        /usr/lib64/libz.so.*:\n        /usr/lib64/libz.a:")


def test_edit_into_an_empty_document() -> None:
    doc = load_document(CORPUS / "glibc-nss-devel.yaml")
    add_path(doc, "libs", "/usr/lib64/libnss_hesiod.so.*")
    assert "libs:\n    contents:\n      common:\n        /usr/lib64/libnss_hesiod.so.*:" \
        in dump_document(doc)


def test_edit_refuses_a_non_map_contents() -> None:
    doc = parse_document("package: p\nslices:\n  libs:\n    contents: [a]\n")
    with pytest.raises(SdfEditError, match=r"slices.libs.contents is a CommentedSeq, not a map"):
        add_path(doc, "libs", "/x")


def test_write_atomic_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = _write(tmp_path, "a.yaml", "old\n")
    target.chmod(0o600)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]


def test_write_atomic_writes_into_a_pipe_and_keeps_it(tmp_path: Path) -> None:
    import os
    import stat
    import threading

    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_atomic(fifo, "slices: {}\n")
    reader.join(timeout=10)
    assert received == ["slices: {}\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- the model ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "package", "name"), [
    ("glibc_libs", "glibc", "libs"),
    ("nodejs-libs_libs", "nodejs-libs", "libs"),
    ("java-21-openjdk-headless_class-data-sharing", "java-21-openjdk-headless",
     "class-data-sharing"),
    ("my_pkg_name_core", "my_pkg_name", "core"),
])
def test_parse_slice_ref_splits_at_last_underscore(text: str, package: str, name: str) -> None:
    ref = parse_slice_ref(text, 7)
    assert (ref.package, ref.slice, ref.line) == (package, name, 7)
    assert str(ref) == text


@pytest.mark.parametrize("text", ["glibc", "_libs", "glibc_", ""])
def test_parse_slice_ref_rejects(text: str) -> None:
    with pytest.raises(SdfError, match=r"is not a slice reference \(want PACKAGE_SLICE\)"):
        parse_slice_ref(text)


def test_load_corpus_glibc() -> None:
    sdf = load_sdf(CORPUS / "glibc.yaml")
    assert sdf.package == "glibc" and sdf.package_line == 1
    assert sdf.deps == (SliceRef("glibc", "copyright"),)
    assert list(sdf.slices) == ["config", "libs", "copyright"]
    libs = sdf.slices["libs"]
    assert libs.deps == ()  # commented out in the file
    assert libs.line == 12
    assert libs.common[0] == PathRule("/usr/lib64/libpcprofile.so")
    assert libs.common[0].line == 17
    assert libs.extra == {"linux-x86_64": (PathRule("/lib64/ld*.so.*"),),
                          "linux-aarch64": (PathRule("/lib/ld*.so.*"),)}
    x86 = [rule.pattern for rule in patterns_for(libs, "x86_64")]
    assert x86[-1] == "/lib64/ld*.so.*" and "/lib/ld*.so.*" not in x86
    assert sdf.schema_problems == ()


def test_load_corpus_dir_and_known_schema_problems() -> None:
    sdfs = load_sdf_dir(CORPUS)
    assert len(sdfs) == 42
    codes = {name: [p.code for p in sdf.schema_problems] for name, sdf in sdfs.items()
             if sdf.schema_problems}
    assert codes == {
        "glibc-nss-devel": ["empty-document"],
        "java-21-openjdk-headless": ["path-options", "path-options", "wrong-type"],
        "nodejs-acorn": ["paths-outside-common"],
    }
    java = sdfs["java-21-openjdk-headless"].schema_problems[2]
    assert java.line == 190
    assert "character by character including '*'" in java.message


def test_schema_problems_are_data(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", """\
package: p
version: 2
deps: p_copyright
slices:
  libs:
    essential:
      - q_libs
    deps:
      - nounderscore
      - 42
    contents:
      common: /usr/lib/*.so
      extra:
        linux-riscv64:
          /x:
        linux-x86_64:
          - /usr/lib64/a
  bins:
    contents:
      common:
        /usr/bin/p:
        /usr/bin/p:
""")
    sdf = load_sdf(path)
    got = [(p.code, p.line) for p in sdf.schema_problems]
    assert got == [
        ("duplicate-key", 22),
        ("unknown-key", 2),
        ("wrong-type", 3),
        ("unknown-key", 6),
        ("bad-slice-ref", 9),
        ("wrong-type", 10),
        ("wrong-type", 12),
        ("unknown-key", 14),
        ("wrong-type", 16),
    ]
    messages = [p.message for p in sdf.schema_problems]
    assert messages[0] == "key '/usr/bin/p' repeats line 21; YAML readers keep only one of them"
    assert "splitter reads it character by character including '*'" in messages[6]
    assert sdf.slices["libs"].common == (PathRule("/usr/lib/*.so"),)
    assert sdf.slices["libs"].extra == {"linux-x86_64": (PathRule("/usr/lib64/a"),)}


@pytest.mark.parametrize(("text", "message"), [
    ("package: p\nslices: [\n", r"bad\.yaml:3: not valid YAML"),
    ("package: p\n\tslices:\n", r"bad\.yaml:2: not valid YAML"),
    ("a: b: c\n", r"bad\.yaml:1: not valid YAML: mapping values are not allowed here"),
])
def test_invalid_yaml_raises_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SdfError, match=message) as info:
        load_sdf(_write(tmp_path, "bad.yaml", text))
    assert isinstance(info.value, SdfgenError)
    assert "\n" not in str(info.value)


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SdfError, match=r"missing\.yaml: cannot read: No such file"):
        load_sdf(tmp_path / "missing.yaml")
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"package: \xff\n")
    with pytest.raises(SdfError, match=r"bin\.yaml: not UTF-8 text \(byte 9\)"):
        load_sdf(bad)
    with pytest.raises(SdfError, match=r"nodir: not a directory of SDFs"):
        load_sdf_dir(tmp_path / "nodir")


def test_selection_helpers() -> None:
    sdf = load_sdf(CORPUS / "glibc.yaml")
    paths = ["/lib64/libc.so.6", "/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1",
             "/etc/ld.so.conf", "/etc/ld.so.conf.d/x.conf", "/usr/share/licenses/glibc/LICENSES"]
    libs = sdf.slices["libs"]
    chosen = selected_paths(libs, "x86_64", paths)
    assert chosen["/lib64/libc.so.*"] == {"/lib64/libc.so.6"}
    assert chosen["/lib64/ld*.so.*"] == {"/lib64/ld-linux-x86-64.so.2"}
    assert "/lib/ld*.so.*" not in chosen
    assert selected_paths(libs, "aarch64", paths)["/lib/ld*.so.*"] == \
        {"/lib/ld-linux-aarch64.so.1"}
    # fnmatch's '*' crosses '/', chisel's does not.
    assert slice_of_path(sdf, "/etc/ld.so.conf.d/x.conf", "x86_64") == "config"
    assert slice_of_path(sdf, "/etc/ld.so.conf.d/x.conf", "x86_64", Reading.CHISEL) is None
    assert slice_of_path(sdf, "/usr/share/licenses/glibc/LICENSES", "aarch64") == "copyright"
    assert slice_of_path(sdf, "/usr/bin/ldd", "x86_64") is None


def _parsed_keys(directory: Path) -> dict[str, str]:
    """Package -> file name as parsing every file gives them (load_sdf_dir's rule)."""
    keys: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        package = load_sdf(path).package
        keys[package if package not in keys else path.stem] = path.name
    return keys


def test_sdf_directory_keys_are_those_a_full_parse_gives(tmp_path: Path) -> None:
    files = {
        "plain.yaml": "package: plain\nslices: {}\n",
        "quoted.yaml": "package: 'quoted-name'  # a comment\nslices: {}\n",
        "double.yaml": 'package: "libstdc++"\nslices: {}\n',
        "nokey.yaml": "slices: {}\n",
        "other-name.yaml": "package: plain\nslices: {}\n",  # a second claim: by file name
        "anchor.yaml": "package: &p anchored\nslices: {}\n",
        "flow.yaml": "{package: flowing, slices: {}}\n",
        "twice.yaml": "package: first\npackage: second\nslices: {}\n",
        "spaced.yaml": "package : spaced\nslices: {}\n",
        "comments.yaml": "# package: not-this\n# only comments\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    directory = load_sdf_dir(tmp_path)
    assert {key: directory[key].path.name for key in directory} == _parsed_keys(tmp_path)
    assert directory["libstdc++"].package == "libstdc++"
    assert load_sdf_dir(CORPUS).keys() == _parsed_keys(CORPUS).keys()


def test_sdf_directory_parses_only_what_is_looked_up(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("package: good\nslices:\n  libs: {}\n")
    (tmp_path / "broken.yaml").write_text("package: broken\nslices: [\n")
    directory = load_sdf_dir(tmp_path)
    assert list(directory.get("good").slices) == ["libs"]
    assert directory.get("absent") is None
    with pytest.raises(SdfError, match=r"broken\.yaml"):
        directory["broken"]


def test_a_read_only_document_is_never_dumped(tmp_path: Path) -> None:
    path = tmp_path / "zlib.yaml"
    path.write_text("package: zlib\nslices: {}\n")
    assert dump_document(load_document(path)) == path.read_text()
    with pytest.raises(ValueError, match="read-only"):
        dump_document(load_document(path, editable=False))
