"""The sample repository (samples/mkrepo.py), checked with the real rpm and createrepo_c.

Runs against build/sample-repo (built by the conftest fixture when missing), asking
`rpm -qp` about the RPMs rather than trusting our own reader.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sdfgen.repo.evr import compare_evr, parse_evr

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "samples"))

import _mkrepo_apt  # noqa: E402
import _mkrepo_build  # noqa: E402
import _mkrepo_catalog  # noqa: E402
import _mkrepo_spec  # noqa: E402
import mkrepo  # noqa: E402

RELEASE = "24.03-LTS"
ARCHES = ("x86_64", "aarch64")
REPO_DIRS = ("OS", "everything", "EPOL/main", "update")
_REPO_NS = {"r": "http://linux.duke.edu/metadata/repo", "c": "http://linux.duke.edu/metadata/common"}


def _rpm(*args: str) -> str:
    return subprocess.run(["rpm", *args], capture_output=True, text=True, check=True).stdout


def _top(root: Path) -> Path:
    return root / f"openEuler-{RELEASE}"


def _packages(root: Path, arch: str, repo: str = "OS") -> list[Path]:
    return sorted((_top(root) / repo / arch / "Packages").glob("*.rpm"))


def _one(root: Path, arch: str, name: str, repo: str = "OS") -> Path:
    found = [p for p in _packages(root, arch, repo)
             if _rpm("-qp", "--qf", "%{NAME}", str(p)) == name]
    assert len(found) == 1, f"{name} in {repo}/{arch}: {found}"
    return found[0]


def _files_with_flags(rpm_path: Path) -> dict[str, str]:
    out = _rpm("-qp", "--qf", r"[%{FILENAMES}\t%{FILEFLAGS:fflags}\n]", str(rpm_path))
    return dict(line.split("\t", 1) for line in out.splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_both_arches_have_the_same_packages(sample_repo_root: Path, arch: str) -> None:
    rpms = _packages(sample_repo_root, arch)
    names_arches = _rpm("-qp", "--qf", r"%{NAME} %{ARCH}\n", *map(str, rpms)).split("\n")
    pairs = [line.split() for line in names_arches if line]
    assert {a for _, a in pairs} == {arch, "noarch"}
    names = {n for n, _ in pairs}
    assert {"glibc", "openssl-libs", "openssl", "zlib", "libgcc", "libstdc++", "python3",
            "tzdata", "ca-certificates", "busybox"} <= names
    other = ARCHES[1 - ARCHES.index(arch)]
    other_names = set(_rpm("-qp", "--qf", r"%{NAME}\n",
                           *map(str, _packages(sample_repo_root, other))).split())
    assert names == other_names
    assert dict(pairs)["tzdata"] == "noarch"


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_openssl_libs_has_automatic_soname_deps(sample_repo_root: Path, arch: str) -> None:
    rpm_path = str(_one(sample_repo_root, arch, "openssl-libs"))
    provides = _rpm("-qp", "--provides", rpm_path).split("\n")
    requires = _rpm("-qp", "--requires", rpm_path).split("\n")
    assert "libssl.so.3()(64bit)" in provides
    assert "libcrypto.so.3(OPENSSL_3.0.0)(64bit)" in provides
    assert any(re.fullmatch(r"libc\.so\.6\(GLIBC_2\.\d+\)\(64bit\)", r) for r in requires)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_loader_and_libraries_keep_debian_paths(sample_repo_root: Path, arch: str) -> None:
    files = _files_with_flags(_one(sample_repo_root, arch, "glibc"))
    triplet = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}[arch]
    loader = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "aarch64": "/lib/ld-linux-aarch64.so.1"}
    assert loader[arch] in files
    assert f"/lib/{triplet}/libc.so.6" in files
    assert "/etc/ld.so.conf" in files and "c" in files["/etc/ld.so.conf"]


@pytest.mark.slow
def test_every_payload_is_zstd(sample_repo_root: Path) -> None:
    rpms = [str(p) for arch in ARCHES for p in _packages(sample_repo_root, arch)]
    compressors = set(_rpm("-qp", "--qf", r"%{PAYLOADCOMPRESSOR}\n", *rpms).split())
    assert compressors == {"zstd"}


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_copyright_is_license_and_conffiles_are_config(sample_repo_root: Path,
                                                        arch: str) -> None:
    files = _files_with_flags(_one(sample_repo_root, arch, "openssl"))
    assert "l" in files["/usr/share/licenses/openssl/openssl.copyright"]
    assert "c" in files["/etc/ssl/openssl.cnf"] and "n" in files["/etc/ssl/openssl.cnf"]
    assert "d" in files["/usr/share/man/man1/openssl.1ssl.gz"]
    assert files["/usr/bin/openssl"] == ""
    # the dropped Perl scripts (openEuler's openssl-perl) are really gone
    assert "/usr/bin/c_rehash" not in files
    libgcc = _files_with_flags(_one(sample_repo_root, arch, "libgcc"))
    assert "l" in libgcc["/usr/share/licenses/libgcc/gcc-12-base.copyright"]
    for rpm_path in _packages(sample_repo_root, arch):
        leftover = [f for f in _files_with_flags(rpm_path)
                    if re.fullmatch(r"/usr/share/doc/[^/]+/copyright", f)]
        assert leftover == [], rpm_path.name


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_requires_are_closed_within_each_arch(sample_repo_root: Path, arch: str) -> None:
    """Every automatic Require (sonames, interpreters) is provided inside the repo."""
    rpms = [str(p) for p in _packages(sample_repo_root, arch)]
    provided = set(_rpm("-qp", "--qf", r"[%{PROVIDENAME}\n]", *rpms).split("\n"))
    provided |= set(_rpm("-qp", "--qf", r"[%{FILENAMES}\n]", *rpms).split("\n"))
    requires = {
        tuple(line.split(" ", 1))
        for line in _rpm("-qp", "--qf", r"[%{=NAME} %{REQUIRENAME}\n]", *rpms).splitlines()
    }
    sonames = {r for _, r in requires if re.match(r".*\.so[.\d]*\(.*\)\(64bit\)$", r)}
    assert len(sonames) > 50  # rpmbuild's ELF dependency generator did run
    missing = sorted(f"{pkg} needs {req}" for pkg, req in requires
                     if not req.startswith("rpmlib(") and req not in provided)
    assert missing == []


@pytest.mark.slow
def test_repodata_is_valid_with_sha256(sample_repo_root: Path) -> None:
    for repo in REPO_DIRS:
        for arch in ARCHES:
            repodata = _top(sample_repo_root) / repo / arch / "repodata"
            repomd = ET.parse(repodata / "repomd.xml").getroot()
            primary = repomd.find("r:data[@type='primary']", _REPO_NS)
            assert primary is not None, f"{repo}/{arch}"
            checksum = primary.find("r:checksum", _REPO_NS)
            assert checksum is not None and checksum.get("type") == "sha256"
            location = primary.find("r:location", _REPO_NS)
            assert location is not None
            assert (repodata.parent / str(location.get("href"))).is_file()
            count = len(_packages(sample_repo_root, arch, repo))
            if repo in ("everything", "EPOL/main"):
                assert count == 0
            else:
                assert count > 0


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_update_repo_has_newer_zlib(sample_repo_root: Path, arch: str) -> None:
    qf = "%{EPOCHNUM}:%{VERSION}-%{RELEASE}"
    base = parse_evr(_rpm("-qp", "--qf", qf, str(_one(sample_repo_root, arch, "zlib"))))
    update = parse_evr(_rpm("-qp", "--qf", qf,
                            str(_one(sample_repo_root, arch, "zlib", "update"))))
    assert compare_evr(update, base) > 0
    assert (base.epoch, base.version) == (update.epoch, update.version)
    versions = json.loads((sample_repo_root / "versions.json").read_text())
    assert versions["update"][arch]["zlib"]["evr"] == str(update)
    assert versions["OS"][arch]["zlib"]["debs"]["zlib1g"]["version"].startswith("1:1.2.13")


def _rpm_install(root: Path, rpms: list[Path], *extra: str) -> None:
    subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True)
    subprocess.run(["rpm", "--root", str(root), "-i", "--nosignature", *extra,
                    *map(str, rpms)], capture_output=True, check=True)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_rpm_accepts_the_whole_arch_tree(sample_repo_root: Path, arch: str,
                                         tmp_path: Path) -> None:
    """rpm's own resolver: no missing dependency and no file conflict between RPMs."""
    _rpm_install(tmp_path, _packages(sample_repo_root, arch), "--test", "--ignorearch")


@pytest.mark.slow
def test_installed_x86_64_tree_runs_python_and_openssl(sample_repo_root: Path,
                                                       tmp_path: Path) -> None:
    """Debian's files, unchanged and where Debian puts them, run in a chroot of the RPMs."""
    _rpm_install(tmp_path, _packages(sample_repo_root, "x86_64"))
    # a user namespace makes chroot possible without being root
    chroot = ["chroot"] if os.geteuid() == 0 else ["unshare", "-r", "chroot"]
    code = ("import ssl, sqlite3, ctypes, readline, dbm, uuid, lzma, bz2, zlib, pyexpat, "
            "zoneinfo; ssl.create_default_context(); "
            "print(ssl.OPENSSL_VERSION.split()[1], zoneinfo.ZoneInfo('Asia/Shanghai'))")
    python = subprocess.run([*chroot, str(tmp_path), "/usr/bin/python3", "-c", code],
                            capture_output=True, text=True, check=True)
    openssl_version, zone = python.stdout.split()
    assert openssl_version.startswith("3.") and zone == "Asia/Shanghai"
    openssl = subprocess.run([*chroot, str(tmp_path), "/usr/bin/openssl", "version"],
                             capture_output=True, text=True, check=True)
    assert openssl.stdout.startswith("OpenSSL 3.")
    busybox = subprocess.run([*chroot, str(tmp_path), "/bin/sh", "-c", "/bin/busybox echo ok"],
                             capture_output=True, text=True, check=True)
    assert busybox.stdout == "ok\n"
    bundle = (tmp_path / "etc/pki/tls/certs/ca-bundle.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 100


@pytest.mark.slow
def test_unchanged_inputs_rebuild_nothing(sample_repo_root: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--out", str(sample_repo_root), "--release", RELEASE]
    assert mkrepo.main(argv) == 0  # brings a stale tree up to date first
    capsys.readouterr()
    stamp_before = (sample_repo_root / ".mkrepo-stamp").stat().st_mtime_ns
    assert mkrepo.main(argv) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "built " not in out
    assert (sample_repo_root / ".mkrepo-stamp").stat().st_mtime_ns == stamp_before


# --- bad inputs -------------------------------------------------------------------

def _write_catalog(path: Path, body: str) -> Path:
    path.write_text("release_tag: oe2403\npackages:\n" + body, encoding="utf-8")
    return path


@pytest.mark.slow
def test_unknown_deb_fails_with_one_line_and_writes_no_repo(
        sample_repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _write_catalog(tmp_path / "p.yaml", (
        "  zlib: {summary: z, license: Zlib, debs: [zlib1g]}\n"
        "  ghost: {summary: g, license: MIT, debs: [no-such-deb-sdfgen]}\n"
    ))
    out = tmp_path / "repo"
    status = mkrepo.main(["--out", str(out), "--release", RELEASE, "--packages", str(catalog),
                          "--work", str(sample_repo_root.parent)])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert len(err.splitlines()) == 1
    assert "'ghost'" in err and "no-such-deb-sdfgen" in err
    assert not out.exists()


@pytest.mark.parametrize(("body", "expected"), [
    ("  zlib: {summary: z, license: Zlib, debs: [zlib1g], colour: red}\n",
     "package 'zlib': unknown key(s) colour"),
    ("  zlib: {summary: z, license: Zlib, debs: []}\n", "package 'zlib': 'debs' is empty"),
    ("  zlib: {license: Zlib, debs: [zlib1g]}\n", "'summary' is missing or empty"),
    ("  zlib: {summary: z, license: Zlib, debs: [Zlib1G]}\n",
     "'Zlib1G' is not a Debian package name"),
    ("  a: {summary: z, license: Zlib, debs: [zlib1g]}\n"
     "  b: {summary: z, license: Zlib, debs: [zlib1g]}\n",
     "deb 'zlib1g' is in both 'a' and 'b'"),
    ("  zlib: {summary: z, license: Zlib, debs: [zlib1g], drop: [usr/bin/x]}\n",
     "'usr/bin/x' is not a normalised absolute path"),
])
def test_bad_catalog_is_rejected_with_its_entry(tmp_path: Path, body: str,
                                                expected: str) -> None:
    path = _write_catalog(tmp_path / "p.yaml", body)
    with pytest.raises(_mkrepo_catalog.SampleRepoError) as info:
        _mkrepo_catalog.load_catalog(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_yaml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("packages: [unclosed\n", encoding="utf-8")
    with pytest.raises(_mkrepo_catalog.SampleRepoError, match=r"p\.yaml: not valid YAML"):
        _mkrepo_catalog.load_catalog(path)


def test_shipped_catalog_is_valid() -> None:
    catalog = _mkrepo_catalog.load_catalog(ROOT / "samples" / "packages.yaml")
    assert catalog.package("glibc").debs == ("libc6", "libc-bin")
    assert catalog.updates == (("zlib", "1"),)


def _zlib_deb(sample_repo_root: Path) -> _mkrepo_apt.DebFile:
    path = next((sample_repo_root.parent / "debian" / "pool").glob("zlib1g_*_amd64.deb"))
    return _mkrepo_apt.DebFile("zlib1g", "1:1.2.13.dfsg-1", "amd64", path,
                               _mkrepo_apt.sha256_file(path))


@pytest.mark.slow
def test_drop_of_a_path_the_deb_lacks_names_package_and_path(sample_repo_root: Path,
                                                             tmp_path: Path) -> None:
    spec = _mkrepo_catalog.PackageSpec("zlib", "z", "Zlib", ("zlib1g",),
                                       drop=("/usr/bin/nope",))
    with pytest.raises(_mkrepo_catalog.SampleRepoError,
                       match=r"^zlib: drop path /usr/bin/nope is not shipped by zlib1g$"):
        _mkrepo_spec.stage(spec, [_zlib_deb(sample_repo_root)], [], tmp_path / "stage")


@pytest.mark.slow
def test_rpmbuild_failure_names_package_and_deb(sample_repo_root: Path,
                                                tmp_path: Path) -> None:
    spec = _mkrepo_catalog.PackageSpec("zlib", "z", "Zlib", ("zlib1g",),
                                       provides=("broken >=",))
    job = _mkrepo_build.BuildJob(spec, "x86_64", (_zlib_deb(sample_repo_root),), (),
                                 "oe2403", "openEuler 24.03-LTS")
    with pytest.raises(_mkrepo_catalog.SampleRepoError) as info:
        _mkrepo_build.build_all([job], tmp_path / "cache")
    message = str(info.value)
    assert message.startswith("zlib.x86_64 (debs zlib1g_")
    assert "rpmbuild failed: error:" in message and "\n" not in message
    assert not list((tmp_path / "cache").glob("x86_64/*.rpm"))


# --- pure functions -----------------------------------------------------------------

@pytest.mark.parametrize(("deb_version", "expected"), [
    ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1.oe2403"),
    ("2.36-9+deb12u14", "2.36-9+deb12u14.oe2403"),
    ("20250419~deb12u2", "20250419~deb12u2-0.oe2403"),
    ("1.0-rc1-3", "1.0_rc1-3.oe2403"),
])
def test_deb_evr(deb_version: str, expected: str) -> None:
    assert str(_mkrepo_spec.deb_evr(deb_version, "oe2403")) == expected


def test_deb_evr_update_suffix_sorts_newer() -> None:
    base = _mkrepo_spec.deb_evr("1:1.2.13.dfsg-1", "oe2403")
    update = _mkrepo_spec.deb_evr("1:1.2.13.dfsg-1", "oe2403", "1")
    assert compare_evr(update, base) > 0


def test_bad_epoch_is_rejected() -> None:
    with pytest.raises(_mkrepo_catalog.SampleRepoError, match="epoch is not a number"):
        _mkrepo_spec.deb_evr("x:1.0-1", "oe2403")


def test_parse_sources_keeps_bookworm_deb_entries_only() -> None:
    deb822 = (
        "Types: deb deb-src\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates trixie\nComponents: main contrib\n"
        "Signed-By: /usr/share/keyrings/k.gpg\n\n"
        "Types: deb-src\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"
        "Components: main\n"
    )
    one_line = (
        "deb [arch=amd64 signed-by=/k.gpg] http://sec.invalid/ bookworm-security main\n"
        "deb http://old.invalid/ bullseye main\n# deb http://x.invalid/ bookworm main\n"
    )
    sources = _mkrepo_apt.parse_sources({"a.sources": deb822, "sources.list": one_line})
    assert sources == [
        _mkrepo_apt.AptSource(("http://mirror.invalid/debian",),
                              ("bookworm", "bookworm-updates"), ("main", "contrib"),
                              "/usr/share/keyrings/k.gpg"),
        _mkrepo_apt.AptSource(("http://sec.invalid/",), ("bookworm-security",), ("main",),
                              "/k.gpg"),
    ]
    assert "Types: deb\n" in sources[0].render()


def test_no_bookworm_source_is_an_error(tmp_path: Path) -> None:
    apt = _mkrepo_apt.AptState(tmp_path / "a", tmp_path / "pool", "arm64", [])
    with pytest.raises(_mkrepo_catalog.SampleRepoError, match="no 'deb' entry for bookworm"):
        apt.ensure_lists()


def test_bad_release_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mkrepo.main(["--out", str(tmp_path / "r"), "--release", "latest"]) == 1
    assert "--release 'latest'" in capsys.readouterr().err


def test_glob_characters_in_file_names_reach_the_rpm_literally(tmp_path: Path) -> None:
    # coreutils ships /usr/bin/[ ; a name like a*b must not also take axb.
    names = ["[", "a*b", "axb", "q?", "b]", "[x]", "100%"]
    root = tmp_path / "stage"
    (root / "usr/bin").mkdir(parents=True)
    for name in names:
        (root / "usr/bin" / name).write_text(name)
    tree = _mkrepo_spec.StagedTree(root=root, conffiles=frozenset(),
                                   license_dir="/usr/share/licenses/globs")
    spec = tmp_path / "globs.spec"
    spec.write_text("\n".join([
        "%global debug_package %{nil}", "Name: globs", "Version: 1", "Release: 1",
        "Summary: s", "License: MIT", "BuildArch: noarch", "%description", "d",
        "%install", f"cp -a '{root}/.' %{{buildroot}}/", "%files",
        *(line for line in _mkrepo_spec.file_list(tree) if not line.startswith("%dir")),
    ]) + "\n")
    built = subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {tmp_path / 'top'}",
                            str(spec)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    assert "listed twice" not in built.stderr
    rpm_file = next((tmp_path / "top" / "RPMS" / "noarch").glob("globs-*.rpm"))
    listed = subprocess.run(["rpm", "-qlp", str(rpm_file)], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    assert sorted(filter(None, listed)) == sorted(f"/usr/bin/{n}" for n in names)


@pytest.mark.parametrize("name", ["a\\b", "{x}", 'a"b'])
def test_names_a_spec_cannot_hold_are_refused(name: str) -> None:
    with pytest.raises(_mkrepo_catalog.SampleRepoError, match=r"cannot be written"):
        _mkrepo_spec._quote(f"/usr/bin/{name}")
