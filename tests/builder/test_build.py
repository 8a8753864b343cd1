"""``builder build`` / ``builder smoke`` end to end with real parts.

The sample repository (real RPMs made from Debian bookworm) is served over HTTP on
127.0.0.1; escape attempts use RPMs built here with rpmbuild and a repository made
with createrepo_c; smoke runs are real chroots (arm64 through binfmt_misc) and real
QEMU boots.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.cli import main
from tests.fixtures.builders import build_rpm, patch_payload_names

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
APPS = ROOT / "build" / "apps"


@pytest.fixture(scope="module")
def apps() -> Path:
    """build/apps/<machine>/ with the sample programs (samples/apps/build.sh)."""
    if not all((APPS / m / "hello").is_file() for m in ("x86_64", "aarch64")):
        subprocess.run(["sh", str(SAMPLES / "apps" / "build.sh"), str(APPS)], check=True)
    return APPS


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rpm-cache")


def build(distrofile: Path, out: Path, mirror: str, cache: Path, *extra: str) -> int:
    return main(["build", str(distrofile), "-o", str(out), "--mirror", mirror,
                 "--cache-dir", str(cache), "-q", *extra])


def copy_sdfs(tmp_path: Path) -> Path:
    sdf_dir = tmp_path / "sdf"
    shutil.copytree(SAMPLES / "sdf", sdf_dir)
    return sdf_dir


def distrofile(tmp_path: Path, parts: list[str], *, files: str = "", name: str = "t",
               platforms: str = "[linux/amd64, linux/arm64]", extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nbase: scratch\nrelease: 24.03-LTS\n"
                    f"platforms: {platforms}\nparts: [{', '.join(parts)}]\n{files}{extra}")
    return path


@pytest.mark.slow
def test_base_builds_reproducibly_and_passes_smoke(tmp_path: Path, sample_mirror: str,
                                                   cache: Path, apps: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = SAMPLES / "distrofiles" / "base.yaml"
    assert build(spec, tmp_path / "one", sample_mirror, cache) == 0
    report = capsys.readouterr().out
    assert "glibc_libs" in report and "whole packages" in report
    assert build(spec, tmp_path / "two", sample_mirror, cache) == 0
    one = json.loads((tmp_path / "one" / "build.json").read_text())
    two = json.loads((tmp_path / "two" / "build.json").read_text())
    assert one["index_digest"] == two["index_digest"]
    for arch in ("amd64", "arm64"):
        name = f"docker/base-{arch}.tar"
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert (tmp_path / "one" / "sbom.spdx.json").read_bytes() == \
        (tmp_path / "two" / "sbom.spdx.json").read_bytes()
    assert not list(tmp_path.glob("*.tmp-*")), "staging directories are cleaned up"

    sbom = json.loads((tmp_path / "one" / "sbom.spdx.json").read_text())
    assert sbom["spdxVersion"] == "SPDX-2.3"
    glibc = [p for p in sbom["packages"] if p["name"] == "glibc"]
    assert len(glibc) == 2 and all(p["checksums"][0]["algorithm"] == "SHA256" for p in glibc)
    assert "glibc_copyright" in glibc[0]["comment"]
    names = {f["fileName"] for f in sbom["files"]}
    assert "./usr/share/licenses/glibc/libc6.copyright" in names  # top-level deps followed
    assert "./etc/passwd" in names  # builder base files are listed too

    capsys.readouterr()
    assert main(["smoke", str(tmp_path / "one"), "--mode", "both",
                 "--cache-dir", str(ROOT / "build")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("PASS") for line in lines), lines


@pytest.mark.slow
def test_image_without_glibc_libs_fails_smoke_with_loader_message(
        tmp_path: Path, sample_mirror: str, cache: Path, apps: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    files = (f"files:\n  - {{src: '{apps}/{{arch}}/hello', dest: /usr/bin/hello, "
             "mode: '0755'}\nentrypoint: [/usr/bin/hello]\n")
    spec = distrofile(tmp_path, ["glibc_loader"], files=files)
    assert build(spec, tmp_path / "out", sample_mirror, cache,
                 "--sdf-dir", str(SAMPLES / "sdf")) == 0
    capsys.readouterr()
    assert main(["smoke", str(tmp_path / "out"), "--mode", "both",
                 "--cache-dir", str(ROOT / "build")]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") == 4, out
    assert out.count("error while loading shared libraries: libc.so.6: cannot open shared "
                     "object file") >= 4, out


@pytest.mark.slow
def test_missing_slice_is_a_one_line_error(tmp_path: Path, sample_mirror: str, cache: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    spec = distrofile(tmp_path, ["glibc_libs", "openssl-libs_libz"], name="base")
    code = build(spec, tmp_path / "out", sample_mirror, cache,
                 "--sdf-dir", str(SAMPLES / "sdf"))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: base.yaml:5: part openssl-libs_libz: no such slice 'libz' "
                          "in openssl-libs.yaml"), err
    assert "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_glob_selecting_nothing_is_an_error(tmp_path: Path, sample_mirror: str, cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    sdf_dir = copy_sdfs(tmp_path)
    glibc = sdf_dir / "glibc.yaml"
    anchor = "          /lib/x86_64-linux-gnu/libmvec.so.1:\n"
    text = glibc.read_text()
    assert anchor in text
    nope = "          /lib/x86_64-linux-gnu/libnope.so.*:"
    glibc.write_text(text.replace(anchor, anchor + nope + "\n"))
    line = glibc.read_text().splitlines().index(nope) + 1
    spec = distrofile(tmp_path, ["glibc_libs"])
    assert build(spec, tmp_path / "out", sample_mirror, cache, "--sdf-dir", str(sdf_dir)) == 2
    err = capsys.readouterr().err
    assert f"error: glibc.yaml:{line}: slice glibc_libs glob /lib/x86_64-linux-gnu/libnope.so.* " \
           "selects nothing in glibc-2.36" in err, err
    assert "for x86_64 (splitter would take the whole package)" in err
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob("out.tmp-*"))


# --- escape attempts, with RPMs built here ------------------------------------------


def _repo_of(tmp_path: Path, rpms: list[Path]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for rpm in rpms:
        shutil.copy(rpm, repo / rpm.name)
    subprocess.run(["createrepo_c", "--quiet", str(repo)], check=True)
    return repo


def _sdf(sdf_dir: Path, package: str, paths: list[str]) -> None:
    sdf_dir.mkdir(exist_ok=True)
    body = "".join(f"        {p}:\n" for p in paths)
    (sdf_dir / f"{package}.yaml").write_text(
        f"package: {package}\n\nslices:\n  data:\n    contents:\n      common:\n{body}")


def _build_local(tmp_path: Path, repo: Path, sdf_dir: Path, parts: list[str]) -> int:
    spec = distrofile(tmp_path, parts, platforms="[linux/amd64]")
    return main(["build", str(spec), "-o", str(tmp_path / "out"), "--repo", str(repo),
                 "--sdf-dir", str(sdf_dir), "--cache-dir", str(tmp_path / "cache"), "-q"])


@pytest.mark.slow
def test_symlink_pointing_outside_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    staging = tmp_path / "tree"
    (staging / "data").mkdir(parents=True)
    (staging / "data" / "link").symlink_to("../../../../../../etc/shadow")
    rpm = build_rpm(tmp_path, "evil-link", staging, "/data/link")
    sdf_dir = tmp_path / "sdf"
    _sdf(sdf_dir, "evil-link", ["/data/link"])
    assert _build_local(tmp_path, _repo_of(tmp_path, [rpm]), sdf_dir, ["evil-link_data"]) == 2
    err = capsys.readouterr().err
    # Refused by the predicate check and propose share, before RootWriter's own guard.
    assert "evil-link-1.0-1.x86_64.rpm: /data/link is a symlink to ../../../../../../etc/" \
           "shadow, above the image root; slice evil-link_data selects it; refusing it" \
           in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_write_through_a_symlink_in_the_image_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    first = tmp_path / "tree-a"
    first.mkdir()
    # An absolute target is fine inside the image, but a naive extractor writing
    # /data/file next would follow it to the host's directory.
    (first / "data").symlink_to(outside)
    second = tmp_path / "tree-b"
    (second / "data").mkdir(parents=True)
    (second / "data" / "file").write_text("payload\n")
    rpm_a = build_rpm(tmp_path, "evil-a", first, "/data")
    rpm_b = build_rpm(tmp_path, "evil-b", second, "/data/file")
    sdf_dir = tmp_path / "sdf"
    _sdf(sdf_dir, "evil-a", ["/data"])
    _sdf(sdf_dir, "evil-b", ["/data/file"])
    code = _build_local(tmp_path, _repo_of(tmp_path, [rpm_a, rpm_b]), sdf_dir,
                        ["evil-a_data", "evil-b_data"])
    err = capsys.readouterr().err
    assert code == 2
    assert "image path /data/file: /data is a symlink or not a directory in the image; " \
           "refusing to write through it" in err, err
    assert list(outside.iterdir()) == []


@pytest.mark.slow
def test_unsafe_payload_entry_is_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    staging = tmp_path / "tree"
    (staging / "opt").mkdir(parents=True)
    (staging / "opt" / "evilfile").write_text("owned\n")
    (staging / "opt" / "goodfile").write_text("fine\n")
    rpm = build_rpm(tmp_path, "evil-payload", staging, "/opt/evilfile\n/opt/goodfile")
    # the payload entry "./opt/evilfile" becomes "../../evilfile": two levels above the root
    patched = patch_payload_names(rpm, {b"./opt/evilfile": b"../../evilfile"})
    final = patched.with_name("evil-payload-1.0-1.x86_64.rpm")
    patched.rename(final)
    sdf_dir = tmp_path / "sdf"
    _sdf(sdf_dir, "evil-payload", ["/opt/*"])
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    code = _build_local(work, _repo_of(tmp_path, [final]), sdf_dir, ["evil-payload_data"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unsafe or inconsistent payload entry '../../evilfile': path escapes the root (..)" \
        in err, err
    assert not (tmp_path / "evilfile").exists() and not (tmp_path / "deep" / "evilfile").exists()
    assert not (work / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("image", ["python", "openssl"])
def test_images_from_proposed_sdfs_pass_smoke(image: str, tmp_path: Path, sample_mirror: str,
                                              cache: Path, apps: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """What proves a proposal: the image built from `sdfgen propose --all` runs its app."""
    from sdfgen.cli.app import main as sdfgen_main

    proposed = tmp_path / "proposed"
    assert sdfgen_main(["propose", "--all", "--mirror", sample_mirror, "--cache-dir", str(cache),
                        "-o", str(proposed)]) == 0
    spec = SAMPLES / "distrofiles" / "proposed" / f"{image}.yaml"
    out = tmp_path / "image"
    assert main(["build", str(spec), "--sdf-dir", str(proposed), "-o", str(out), "--mirror",
                 sample_mirror, "--cache-dir", str(cache), "-q"]) == 0
    capsys.readouterr()
    assert main(["smoke", str(out), "--mode", "chroot"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("PASS")]
    assert {line.split()[1] for line in lines} == {"linux/amd64", "linux/arm64/v8"}
