"""Tests for sdfgen.repo.sources: mirror defaults, --repo locations and dnf .repo files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdfgen.errors import ConfigError
from sdfgen.repo.sources import (
    RepoSource,
    basearch,
    mirror_sources,
    repofile_sources,
    resolve_sources,
    sources_by_arch,
    substitute,
)


def test_default_mirror_gives_the_four_openeuler_repositories() -> None:
    sources = resolve_sources("x86_64")
    assert sources == [
        RepoSource("OS", "https://repo.openeuler.org/openEuler-24.03-LTS/OS/x86_64/"),
        RepoSource("everything",
                   "https://repo.openeuler.org/openEuler-24.03-LTS/everything/x86_64/"),
        RepoSource("EPOL", "https://repo.openeuler.org/openEuler-24.03-LTS/EPOL/main/x86_64/"),
        RepoSource("update", "https://repo.openeuler.org/openEuler-24.03-LTS/update/x86_64/"),
    ]


def test_mirror_and_release_are_used_with_or_without_trailing_slash() -> None:
    with_slash = mirror_sources("aarch64", "http://127.0.0.1:8080/", "22.03-LTS-SP3")
    without = mirror_sources("aarch64", "http://127.0.0.1:8080", "22.03-LTS-SP3")
    assert with_slash == without
    assert with_slash[2].baseurl == (
        "http://127.0.0.1:8080/openEuler-22.03-LTS-SP3/EPOL/main/aarch64/"
    )


def test_local_directory_mirror_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    sources = resolve_sources("x86_64", mirror="build/sample-repo")
    assert sources[0].baseurl == f"{tmp_path}/build/sample-repo/openEuler-24.03-LTS/OS/x86_64/"


def test_repo_urls_replace_the_mirror_defaults(tmp_path: Path) -> None:
    sources = resolve_sources(
        "aarch64",
        mirror="http://ignored.invalid/",
        repos=["http://127.0.0.1:9/os/$basearch", f"file://{tmp_path}/r", str(tmp_path / "d")],
    )
    assert [s.baseurl for s in sources] == [
        "http://127.0.0.1:9/os/aarch64/", f"file://{tmp_path}/r/", f"{tmp_path}/d/",
    ]
    assert sources[0].repo_id == "127.0.0.1_9_os_aarch64"
    assert sources[2].repo_id == f"{str(tmp_path).strip('/').replace('/', '_')}_d"


def _write(tmp_path: Path, text: str, name: str = "test.repo") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_repofile_sections_enabled_multivalued_and_variables(tmp_path: Path) -> None:
    repofile = _write(tmp_path, """\
[main]
gpgcheck=1

[OS]
name=OS
baseurl=http://127.0.0.1:1/openEuler-$releasever/OS/$basearch/
        http://127.0.0.1:2/openEuler-${releasever}/OS/${basearch}/
enabled=1
gpgcheck=0

[debuginfo]
baseurl=http://127.0.0.1:1/debuginfo/$basearch/
enabled=0

[local]
baseurl=file:///srv/repo/$arch, /srv/other
""")
    sources = repofile_sources(repofile, "aarch64", "24.03-LTS")
    assert sources == [
        RepoSource("OS", "http://127.0.0.1:1/openEuler-24.03-LTS/OS/aarch64/",
                   ("http://127.0.0.1:2/openEuler-24.03-LTS/OS/aarch64/",)),
        RepoSource("local", "file:///srv/repo/aarch64/", ("/srv/other/",)),
    ]
    assert sources[0].urls[1].startswith("http://127.0.0.1:2/")


def test_repofile_and_repo_combine_and_mirror_is_not_used(tmp_path: Path) -> None:
    repofile = _write(tmp_path, "[extra]\nbaseurl=http://127.0.0.1:1/extra/$basearch\n")
    sources = resolve_sources("x86_64", repos=["http://127.0.0.1:1/x"],
                              repofiles=[repofile])
    assert [s.repo_id for s in sources] == ["extra", "127.0.0.1_1_x"]


def test_sources_by_arch_substitutes_each_arch() -> None:
    by_arch = sources_by_arch(["x86_64", "aarch64"], mirror="http://127.0.0.1:1/")
    assert by_arch["x86_64"][0].baseurl.endswith("/OS/x86_64/")
    assert by_arch["aarch64"][3].baseurl.endswith("/update/aarch64/")


def test_basearch_and_substitute() -> None:
    assert basearch("i686") == "i386"
    assert basearch("aarch64") == "aarch64"
    assert substitute("$basearch/${releasever}/$unknown", {"basearch": "x", "releasever": "1"}) \
        == "x/1/$unknown"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("baseurl=http://x/\n", "bad repo file syntax: File contains no section headers."),
        ("[a]\nbaseurl=http://127.0.0.1/a\n[a]\nbaseurl=http://127.0.0.1/b\n",
         "bad repo file syntax: While reading from"),
        ("[OS]\nname=OS\n", "[OS] has no baseurl"),
        ("[OS]\nmirrorlist=http://127.0.0.1/ml\n",
         "[OS] has no baseurl (mirrorlist/metalink are not supported)"),
        ("[OS]\nbaseurl=http://127.0.0.1/os\nenabled=maybe\n",
         "[OS] enabled='maybe' is not 0 or 1"),
        ("[OS]\nbaseurl=relative/dir\n",
         "[OS] baseurl 'relative/dir' is not an http(s)://, file:// URL or an absolute path"),
        ("[OS]\nbaseurl=http://127.0.0.1/os\nenabled=0\n", "no enabled repository in repo file"),
    ],
)
def test_bad_repofile_names_the_file_and_the_problem(tmp_path: Path, text: str,
                                                     problem: str) -> None:
    repofile = _write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        resolve_sources("x86_64", repofiles=[repofile])
    message = str(excinfo.value)
    assert message.startswith(f"{repofile}: {problem}")
    assert "\n" not in message


def test_missing_repofile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.repo: cannot read repo file: No such file"):
        resolve_sources("x86_64", repofiles=[tmp_path / "missing.repo"])


def test_duplicate_repository_ids_are_rejected(tmp_path: Path) -> None:
    first = _write(tmp_path, "[OS]\nbaseurl=http://127.0.0.1/a\n", "a.repo")
    second = _write(tmp_path, "[OS]\nbaseurl=http://127.0.0.1/b\n", "b.repo")
    with pytest.raises(ConfigError) as excinfo:
        resolve_sources("x86_64", repofiles=[first, second])
    assert str(excinfo.value) == (
        "repository id 'OS' is defined twice (http://127.0.0.1/a/ and http://127.0.0.1/b/)"
    )
