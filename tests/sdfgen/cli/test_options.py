"""The shared repository options: ``--timeout`` is checked, a relative cache dir works."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main as builder_main
from sdfgen.cli.app import main

RELEASE = "24.03-LTS"


@pytest.mark.parametrize(("value", "problem"), [
    ("-1", "must be more than 0 and at most 3600 seconds"),
    ("0", "must be more than 0 and at most 3600 seconds"),
    ("nan", "must be more than 0 and at most 3600 seconds"),
    ("inf", "must be more than 0 and at most 3600 seconds"),
    ("1e400", "must be more than 0 and at most 3600 seconds"),
    ("soon", "not a number of seconds"),
])
def test_bad_timeout_is_one_line_naming_the_option(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path, value: str,
                                                   problem: str) -> None:
    assert main(["inspect", "zlib", "--repo", str(tmp_path), "--timeout", value]) == 2
    assert capsys.readouterr().err == f"error: --timeout {value}: {problem}\n"
    # builder shares the option; it is refused before the Distrofile is even read.
    assert builder_main(["build", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "out"),
                         "--timeout", value]) == 2
    assert capsys.readouterr().err == f"error: --timeout {value}: {problem}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["option", "environment"])
def test_relative_cache_dir_is_taken_from_the_working_directory(
        repo_mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], how: str) -> None:
    _root, url = repo_mirror
    monkeypatch.chdir(tmp_path)
    argv = ["inspect", "libfoo", "--repo", f"{url}openEuler-{RELEASE}/update/x86_64/",
            "--arch", "x86_64", "--json"]
    if how == "option":
        argv += ["--cache-dir", "rel/cache"]
    else:
        monkeypatch.setenv("SDFGEN_CACHE_DIR", "rel/cache")
    assert main(argv) == 0, capsys.readouterr().err
    assert '"libfoo"' in capsys.readouterr().out
    cache = tmp_path / "rel" / "cache"
    assert list((cache / "index").glob("primary-*.sqlite"))
    assert list((cache / "packages").rglob("libfoo-2.0-1.x86_64.rpm"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel"]
