"""The YAML loader's limits (size, depth, aliases): hostile SDFs are refused with one line
naming the file, before ruamel composes them, through the library and through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdfgen.cli.app import main
from sdfgen.sdf.document import dump_document, load_document, parse_document
from sdfgen.sdf.limits import (
    MAX_ALIAS_NODES,
    MAX_ALIASES,
    MAX_BYTES,
    MAX_DEPTH,
    YamlLimitError,
    check_limits,
)
from sdfgen.sdf.model import SdfError, load_sdf


def alias_bomb(levels: int = 9) -> str:
    """The issue's "billion laughs": each level a list of 9 aliases of the one before
    (9**9 strings once expanded, about 500 bytes of text)."""
    lines = ["package: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nslices: {}\n"


def merge_bomb(levels: int = 9) -> str:
    """The same through merge keys: each map merges 9 aliases of the one before."""
    lines = ["package: bomb",
             "m0: &m0 {" + ", ".join(f"k{i}: x" for i in range(9)) + "}"]
    for level in range(1, levels):
        lines.append(f"m{level}: &m{level} {{<<: [" +
                     ", ".join([f"*m{level - 1}"] * 9) + "]}")
    return "\n".join(lines) + "\n"


def nested(depth: int, flow: bool = True) -> str:
    """An SDF with ``depth`` nested lists under one key, in flow or block style."""
    if flow:
        return "package: p\nx: " + "[" * depth + "]" * depth + "\n"
    return "package: p\nx:\n" + "".join(" " * i + "-\n" for i in range(depth - 1)) + \
        " " * (depth - 1) + "- leaf\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(YamlLimitError) as info:
        load_document(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    return message


def test_alias_bomb_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.yaml", alias_bomb())
    assert len(path.read_bytes()) < 600
    assert _refused(path) == (
        f"{path}:6: aliases over the limit for a YAML input (28 aliases standing for "
        f"15670 nodes so far; at most {MAX_ALIASES} aliases and {MAX_ALIAS_NODES} nodes)")


def test_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, "merge.yaml", merge_bomb()))
    assert message.startswith(f"{tmp_path / 'merge.yaml'}:5: aliases over the limit")


def test_many_cheap_aliases_are_refused(tmp_path: Path) -> None:
    text = "package: p\na: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    message = _refused(_write(tmp_path, "many.yaml", text))
    assert f"({MAX_ALIASES + 1} aliases standing for {MAX_ALIASES + 1} nodes" in message


def test_a_few_aliases_load_as_shared_values(tmp_path: Path) -> None:
    text = ("package: p\nslices:\n  libs:\n    contents:\n      common: &paths\n"
            "        /usr/lib64/libp.so.*:\n  more:\n    contents:\n      common: *paths\n")
    path = _write(tmp_path, "p.yaml", text)
    doc = load_document(path)
    assert dump_document(doc) == text
    sdf = load_sdf(path)
    assert sdf.slices["more"].common == sdf.slices["libs"].common


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, "loop.yaml", "package: p\nx: &a [y, *a]\n"))
    assert message == (f"{tmp_path / 'loop.yaml'}:2: alias *a refers to a node that "
                       "contains it (recursive data is refused)")


def test_redefined_anchor_is_refused(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, "twice.yaml", "a: &a x\nb: &a y\nc: *a\n"))
    assert message == f"{tmp_path / 'twice.yaml'}:2: anchor &a is defined twice " \
        "(refused in a YAML input)"


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, flow: bool) -> None:
    path = _write(tmp_path, "deep.yaml", nested(1000, flow))
    message = _refused(path)
    assert message.endswith(f"nested deeper than the limit of {MAX_DEPTH} levels for a "
                            "YAML input")


def test_nesting_at_the_limit_loads(tmp_path: Path) -> None:
    # The top-level map is one level, so 63 lists under it make 64.
    doc = load_document(_write(tmp_path, "ok.yaml", nested(MAX_DEPTH - 1)))
    assert doc.data["package"] == "p"
    with pytest.raises(YamlLimitError, match="nested deeper"):
        parse_document(nested(MAX_DEPTH))


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = "        /usr/lib64/" + "x" * 40 + ":\n"
    path.write_text("package: big\nslices:\n  libs:\n    contents:\n      common:\n" +
                    line * (MAX_BYTES // len(line) + 1))
    # No line in the message: the file was refused before it was parsed.
    with pytest.raises(YamlLimitError) as info:
        load_document(path)
    assert str(info.value) == f"{path}: larger than the limit of 4 MiB for a YAML input"
    with pytest.raises(YamlLimitError, match=r"^<string>: \d+ characters, over the limit"):
        parse_document(path.read_text())


def test_limit_errors_are_sdf_errors_and_syntax_errors_keep_their_message() -> None:
    assert issubclass(YamlLimitError, SdfError)
    with pytest.raises(SdfError, match=r"^x\.yaml:1: not valid YAML: mapping values are "
                       "not allowed here$"):
        check_limits("a: b: c\n", "x.yaml")
    with pytest.raises(SdfError, match=r"^x\.yaml:3: not valid YAML: expected the node "
                       "content, but found '<stream end>'$"):
        check_limits("a: *undefined\nb: [\n", "x.yaml")


# -- as the user meets it --------------------------------------------------------------

@pytest.mark.parametrize("text", [alias_bomb(), merge_bomb(), nested(1000)],
                         ids=["aliases", "merge-keys", "nesting"])
def test_check_reports_a_hostile_sdf_as_one_finding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    """``sdfgen check`` turns an unloadable SDF into an ``invalid-yaml`` finding (exit 1)
    as it does for a syntax error, so the other SDFs of a directory are still checked."""
    path = _write(tmp_path, "bomb.yaml", text)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{path}:")
    assert " E: invalid-yaml " in out[0]
    assert "over the limit" in out[0] or "deeper than the limit" in out[0]
    assert out[1] == "1 error(s), 0 warning(s)"


def test_check_of_a_directory_skips_a_hostile_sibling(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "bomb.yaml", alias_bomb())
    good = _write(tmp_path, "p.yaml", "package: p\nslices:\n  libs:\n    contents:\n"
                  "      common:\n        /usr/lib64/libp.so.*:\n")
    assert main(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "bomb.yaml" not in out
    assert out.endswith("0 error(s), 1 warning(s)\n")  # p has no copyright slice


def test_diff_refuses_a_hostile_sdf_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = _write(tmp_path, "bomb.yaml", alias_bomb())
    assert main(["diff", str(bomb), str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {bomb}:6: aliases over the limit for a YAML input (28 aliases "
                   f"standing for 15670 nodes so far; at most {MAX_ALIASES} aliases and "
                   f"{MAX_ALIAS_NODES} nodes)\n")


def test_an_endless_device_is_read_only_up_to_the_limit() -> None:
    # read_bytes() would never return; the loader reads at most the limit and a byte.
    with pytest.raises(YamlLimitError, match=r"^/dev/zero: larger than the limit of 4 MiB"):
        load_document(Path("/dev/zero"))
