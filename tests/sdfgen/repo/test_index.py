"""Tests for sdfgen.repo.index: real createrepo_c repositories served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from sdfgen.errors import ChecksumError, PackageNotFoundError, RepoError
from sdfgen.facts import Evr
from sdfgen.repo.fetch import FetchOptions
from sdfgen.repo.index import Repository, open_repositories
from sdfgen.repo.sources import RepoSource, mirror_sources, sources_by_arch

RELEASE = "24.03-LTS"
FAST = FetchOptions(connect_timeout=2, read_timeout=5, retries=1, backoff=0.01)


def _open(url: str, cache: Path, arch: str = "x86_64") -> Repository:
    return Repository(mirror_sources(arch, url, RELEASE), arch, cache_dir=cache, options=FAST)


def _repo_dir(root: Path, name: str, arch: str = "x86_64") -> Path:
    return root / f"openEuler-{RELEASE}" / name / arch


def _metadata_file(repo: Path, data_type: str) -> Path:
    return next((repo / "repodata").glob(f"*-{data_type}.xml*"))


def test_latest_is_the_newest_across_repositories(repo_mirror: tuple[Path, str],
                                                  tmp_path: Path) -> None:
    _root, url = repo_mirror
    with _open(url, tmp_path) as repository:
        assert repository.repo_count == 4
        libfoo = repository.latest("libfoo")
        # 2.0 from update beats 1.0 from OS; the 9.0 src.rpm is never chosen.
        assert (libfoo.nevra, libfoo.repo_id) == ("libfoo-2.0-1.x86_64", "update")
        assert libfoo.base_url == f"{url}openEuler-{RELEASE}/update/x86_64/"
        assert repository.latest("foo-data").arch == "noarch"
        # Epoch 1 of 0.1 beats 5.0; 1.0 beats 1.0~rc2.
        assert repository.latest("epochpkg").evr == Evr(1, "0.1", "1")
        assert repository.latest("tildepkg").evr == Evr(0, "1.0", "1")


def test_whatprovides_soname_and_paths(repo_mirror: tuple[Path, str], tmp_path: Path) -> None:
    _root, url = repo_mirror
    with _open(url, tmp_path) as repository:
        assert [p.nevra for p in repository.whatprovides("libfoo.so.1()(64bit)")] == \
            ["libfoo-2.0-1.x86_64"]
        assert [p.nevra for p in repository.whatprovides("libssl.so.3()(64bit)")] == \
            ["openssl-libs-3.0.12-1.x86_64"]
        # In primary (a *bin/ path) and only in filelists (a library path).
        assert [p.nevra for p in repository.whatprovides("/usr/bin/foo")] == \
            ["libfoo-2.0-1.x86_64"]
        assert not list((tmp_path / "index").glob("filelists-*"))
        assert [p.nevra for p in repository.whatprovides("/usr/lib64/libfoo.so.1")] == \
            ["libfoo-2.0-1.x86_64"]
        assert list((tmp_path / "index").glob("filelists-*"))
        assert [p.name for p in repository.whatprovides("/usr/share/foo-data/README")] == \
            ["foo-data"]
        assert repository.whatprovides("libnothing.so.9()(64bit)") == []
        assert repository.whatprovides("/usr/bin/nothing") == []


def test_package_names_and_packages(repo_mirror: tuple[Path, str], tmp_path: Path) -> None:
    _root, url = repo_mirror
    with _open(url, tmp_path) as repository:
        names = repository.package_names()
        assert names == ["epochpkg", "foo-data", "libfoo", "openssl", "openssl-libs",
                         "tildepkg"]
        assert [p.nevra for p in repository.packages()][2] == "libfoo-2.0-1.x86_64"


def test_aarch64_repository_sees_its_own_arch_and_noarch(repo_mirror: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    _root, url = repo_mirror
    repositories = open_repositories(sources_by_arch(["x86_64", "aarch64"], mirror=url),
                                     cache_dir=tmp_path, options=FAST)
    try:
        assert repositories["aarch64"].package_names() == ["armonly", "foo-data"]
        assert repositories["aarch64"].latest("armonly").arch == "aarch64"
        with pytest.raises(PackageNotFoundError):
            repositories["x86_64"].latest("armonly")
    finally:
        for repository in repositories.values():
            repository.close()


def test_unknown_package_suggests_close_names(repo_mirror: tuple[Path, str],
                                              tmp_path: Path) -> None:
    _root, url = repo_mirror
    with _open(url, tmp_path) as repository, pytest.raises(PackageNotFoundError) as excinfo:
        repository.latest("openssl-lib")
    assert str(excinfo.value) == (
        "no package 'openssl-lib' in 4 repositories for x86_64; "
        "did you mean: openssl-libs, openssl?"
    )
    assert excinfo.value.suggestions == ("openssl-libs", "openssl")


def test_source_only_package_is_never_chosen(repo_mirror: tuple[Path, str],
                                             tmp_path: Path) -> None:
    _root, url = repo_mirror
    with _open(url, tmp_path) as repository, pytest.raises(PackageNotFoundError) as excinfo:
        repository.latest("srconly")
    assert str(excinfo.value) == (
        "no package 'srconly' in 4 repositories for x86_64; it exists only as src"
    )


def test_download_is_verified_and_cached(repo_mirror: tuple[Path, str], tmp_path: Path,
                                         repo_rpms: dict[str, Path]) -> None:
    root, url = repo_mirror
    with _open(url, tmp_path / "cache") as repository:
        pkg = repository.latest("libfoo")
        path = repository.download(pkg)
        assert path.is_relative_to(tmp_path / "cache")
        assert path.read_bytes() == repo_rpms["libfoo-2.0"].read_bytes()
        # Cached by checksum: the server's copy is no longer needed.
        (_repo_dir(root, "update") / path.name).unlink()
        assert repository.download(pkg) == path


def test_checksum_mismatched_rpm_is_not_used_or_cached(repo_mirror: tuple[Path, str],
                                                       tmp_path: Path,
                                                       repo_rpms: dict[str, Path]) -> None:
    root, url = repo_mirror
    with _open(url, tmp_path / "cache") as repository:
        pkg = repository.latest("libfoo")
        served = _repo_dir(root, "update") / "libfoo-2.0-1.x86_64.rpm"
        shutil.copy(repo_rpms["libfoo-1.0"], served)  # the wrong RPM under the right name
        actual = hashlib.sha256(served.read_bytes()).hexdigest()
        with pytest.raises(ChecksumError) as excinfo:
            repository.download(pkg)
    assert str(excinfo.value) == (
        f"{url}openEuler-{RELEASE}/update/x86_64/libfoo-2.0-1.x86_64.rpm: checksum mismatch: "
        f"expected sha256:{pkg.checksum}, got sha256:{actual}; the file was not used"
    )
    assert not list((tmp_path / "cache" / "packages").rglob("*.rpm"))
    assert not list((tmp_path / "cache" / "packages").rglob(".partial-*"))


def test_unreachable_mirror_fails_with_the_url(repo_closed_port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{repo_closed_port}/"
    with pytest.raises(RepoError) as excinfo:
        _open(url, tmp_path)
    assert str(excinfo.value) == (
        f"{url}openEuler-{RELEASE}/OS/x86_64/repodata/repomd.xml: cannot connect: "
        "Connection refused (after 2 attempts)"
    )


def test_second_baseurl_is_used_when_the_first_is_down(repo_mirror: tuple[Path, str],
                                                       repo_closed_port: int,
                                                       tmp_path: Path) -> None:
    _root, url = repo_mirror
    good = f"{url}openEuler-{RELEASE}/update/x86_64/"
    source = RepoSource("update", f"http://127.0.0.1:{repo_closed_port}/update/", (good,))
    with Repository([source], "x86_64", cache_dir=tmp_path, options=FAST) as repository:
        assert repository.latest("libfoo").base_url == good


def test_missing_repository_names_the_url(repo_mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, url = repo_mirror
    shutil.rmtree(_repo_dir(root, "EPOL/main"))
    with pytest.raises(RepoError) as excinfo:
        _open(url, tmp_path)
    assert str(excinfo.value) == (
        f"{url}openEuler-{RELEASE}/EPOL/main/x86_64/repodata/repomd.xml: HTTP 404 File not found"
    )


def test_bad_repomd_names_the_url(repo_mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, url = repo_mirror
    (_repo_dir(root, "everything") / "repodata" / "repomd.xml").write_text("<html>oops")
    with pytest.raises(RepoError) as excinfo:
        _open(url, tmp_path)
    assert str(excinfo.value).startswith(
        f"{url}openEuler-{RELEASE}/everything/x86_64/repodata/repomd.xml: "
        "not a valid repomd.xml: "
    )


def test_truncated_primary_is_reported_and_not_indexed(repo_mirror: tuple[Path, str],
                                                       repo_tools: Any, tmp_path: Path) -> None:
    root, url = repo_mirror
    repo = _repo_dir(root, "update")
    # Truncated but with a matching checksum in repomd.xml: only the parser can tell.
    new = repo_tools.rewrite_metadata(repo, "primary", lambda raw: raw[: len(raw) * 2 // 3])
    with pytest.raises(RepoError) as excinfo:
        _open(url, tmp_path)
    message = str(excinfo.value)
    assert message.startswith(f"{url}openEuler-{RELEASE}/update/x86_64/repodata/{new.name}: "
                              "corrupt or truncated metadata: ")
    assert not list((tmp_path / "index").glob(f"*{new.name.split('-')[0]}*"))
    assert not list((tmp_path / "metadata").rglob(new.name))


def test_checksum_mismatched_primary_is_not_used_or_cached(repo_mirror: tuple[Path, str],
                                                           repo_tools: Any,
                                                           tmp_path: Path) -> None:
    root, url = repo_mirror
    repo = _repo_dir(root, "OS")
    primary = _metadata_file(repo, "primary")
    expected = primary.name.split("-")[0]
    changed = repo_tools.rewrite_metadata(
        repo, "primary", lambda raw: raw.replace(b"openssl-libs", b"openssl-evil"),
        update_checksum=False)
    actual = hashlib.sha256(changed.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as excinfo:
        _open(url, tmp_path)
    assert str(excinfo.value) == (
        f"{url}openEuler-{RELEASE}/OS/x86_64/repodata/{primary.name}: checksum mismatch: "
        f"expected sha256:{expected}, got sha256:{actual}; the file was not used"
    )
    # OS is the first repository: no primary at all may have reached the cache.
    assert not list((tmp_path / "metadata").rglob("*primary*"))
    assert not list((tmp_path / "index").glob(f"primary-*{expected}*"))


@pytest.mark.parametrize("compress", ["gz", "xz", "bz2", "zst"])
def test_every_primary_compression_works_end_to_end(repo_rpms: dict[str, Path],
                                                    repo_tools: Any, repo_www: tuple[Path, str],
                                                    compress: str, tmp_path: Path) -> None:
    www, url = repo_www
    repo = www / f"compress-{compress}"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir()
    for label in ("libfoo-1.0", "foo-data", "libfoo-9.0-src"):
        shutil.copy2(repo_rpms[label], repo)
    repo_tools.createrepo(repo, compress)
    source = RepoSource("r", f"{url}compress-{compress}/")
    with Repository([source], "x86_64", cache_dir=tmp_path, options=FAST) as repository:
        assert repository.latest("libfoo").nevra == "libfoo-1.0-1.x86_64"
        assert [p.name for p in repository.whatprovides("/usr/lib64/libfoo.so.1")] == ["libfoo"]
        assert repository.download(repository.latest("foo-data")).is_file()


def test_warm_start_uses_the_index_and_a_new_primary_rebuilds_it(
        repo_mirror: tuple[Path, str], repo_rpms: dict[str, Path], repo_tools: Any,
        tmp_path: Path) -> None:
    root, url = repo_mirror
    repo = _repo_dir(root, "OS")
    source = [RepoSource("OS", f"{url}openEuler-{RELEASE}/OS/x86_64/")]
    Repository(source, "x86_64", cache_dir=tmp_path, options=FAST).close()
    first_index = list((tmp_path / "index").glob("primary-*"))
    assert len(first_index) == 1
    # Warm: the primary is not fetched again (the server no longer has it).
    _metadata_file(repo, "primary").rename(repo / "moved-away")
    with Repository(source, "x86_64", cache_dir=tmp_path, options=FAST) as warm:
        assert warm.latest("libfoo").evr == Evr(0, "1.0", "1")
    # A changed repository has a new primary checksum, hence a new index.
    (repo / "moved-away").unlink()
    shutil.copy2(repo_rpms["libfoo-2.0"], repo)
    repo_tools.createrepo(repo)
    with Repository(source, "x86_64", cache_dir=tmp_path, options=FAST) as changed:
        assert changed.latest("libfoo").evr == Evr(0, "2.0", "1")
    assert len(list((tmp_path / "index").glob("primary-*"))) == 2


def test_damaged_index_is_rebuilt(repo_mirror: tuple[Path, str], tmp_path: Path) -> None:
    _root, url = repo_mirror
    source = [RepoSource("OS", f"{url}openEuler-{RELEASE}/OS/x86_64/")]
    Repository(source, "x86_64", cache_dir=tmp_path, options=FAST).close()
    index = next((tmp_path / "index").glob("primary-*"))
    index.write_bytes(b"not a database")
    with Repository(source, "x86_64", cache_dir=tmp_path, options=FAST) as repository:
        assert repository.latest("openssl").name == "openssl"


def test_local_directory_and_file_url_repositories(repo_mirror_tree: Path,
                                                   tmp_path: Path) -> None:
    update = _repo_dir(repo_mirror_tree, "update")
    sources = [RepoSource("os", _repo_dir(repo_mirror_tree, "OS").as_uri() + "/"),
               RepoSource("update", f"{update}/")]
    with Repository(sources, "x86_64", cache_dir=tmp_path) as repository:
        pkg = repository.latest("libfoo")
        assert pkg.repo_id == "update"
        assert repository.download(pkg).read_bytes() == (update / pkg.location).read_bytes()


def test_no_sources_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="^no repositories given for x86_64$"):
        Repository([], "x86_64", cache_dir=tmp_path)
