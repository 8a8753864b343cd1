"""Docker archive tags and per-platform layouts, loaded by the real tools.

Both platforms' archives of one build are loaded into one podman store (Debian's
podman, a private store under tmp_path) and, where Debian's docker.io is installed,
into a dockerd started for the test on its own socket and data root: both images
must stay tagged. The per-platform OCI layouts are read by skopeo and unpacked by
umoci, which refuses the multi-platform index.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.cli import main
from builder.errors import BuildError
from builder.platform import parse_platform
from builder.reference import default_reference, platform_tag

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")
TAGS = {"amd64": "localhost/sdfgen/base:latest-amd64",
        "arm64": "localhost/sdfgen/base:latest-arm64"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (Debian package {name}; make setup installs it)"
    return path


@pytest.fixture(scope="module")
def base_image(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str) -> Path:
    """The base sample image with the default tags and per-platform layouts."""
    tmp = tmp_path_factory.mktemp("archives")
    out = tmp / "base"
    assert main(["build", str(SAMPLES / "distrofiles" / "base.yaml"), "--sdf-dir",
                 str(SAMPLES / "sdf"), "-o", str(out), "--mirror", sample_mirror,
                 "--cache-dir", str(tmp / "cache"), "-q", "--per-platform-layout"]) == 0
    return out


def _repo_tags(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        (entry,) = json.load(manifest)
    return list(entry["RepoTags"])


def test_default_and_given_tags_differ_per_platform() -> None:
    assert default_reference("python") == "localhost/sdfgen/python:latest"
    assert platform_tag(default_reference("python"), AMD64) == \
        "localhost/sdfgen/python:latest-amd64"
    assert platform_tag("registry.example:5000/team/python", ARM64) == \
        "registry.example:5000/team/python:latest-arm64"
    assert platform_tag("python:3.11-{arch}", ARM64) == "python:3.11-arm64"


@pytest.mark.parametrize(("reference", "message"), [
    ("Python:1", "image reference 'Python:1': each part of the repository name is lower-case "
                 "letters and digits separated by '.', '_', '__' or '-'"),
    ("a/b@sha256:" + "0" * 64, "a digest cannot be a tag; give REPOSITORY[:TAG]"),
    ("a:.x", "tag '.x' with the platform added is not 1-128 letters, digits, '_', '.' or '-'"),
    ("a:" + "x" * 125, "with the platform added is not 1-128"),
    ("bad_host:5000:1/x", "'bad_host:5000:1' is not a registry host"),
    ("a//b", "each part of the repository name"),
])
def test_bad_references_are_refused(reference: str, message: str) -> None:
    with pytest.raises(BuildError) as info:
        platform_tag(reference, AMD64)
    assert str(info.value).startswith(f"image reference {reference!r}: ")
    assert message in str(info.value)


def test_bad_tag_fails_before_anything_is_fetched(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens on port 9: the build stops at the tag, not at the repository.
    assert main(["build", str(SAMPLES / "distrofiles" / "base.yaml"), "-o",
                 str(tmp_path / "out"), "--mirror", "http://127.0.0.1:9/", "--cache-dir",
                 str(tmp_path / "cache"), "-q", "--tag", "Base"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: image reference 'Base': each part of the repository name is lower-case "
        "letters and digits separated by '.', '_', '__' or '-'")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_archives_carry_one_tag_per_platform(base_image: Path, tmp_path: Path,
                                             sample_mirror: str) -> None:
    for arch, tag in TAGS.items():
        assert _repo_tags(base_image / "docker" / f"base-{arch}.tar") == [tag]
    record = json.loads((base_image / "build.json").read_text())
    assert record["docker_archives"] == [{"path": f"docker/base-{arch}.tar", "tag": tag}
                                         for arch, tag in TAGS.items()]
    out = tmp_path / "tagged"
    assert main(["build", str(SAMPLES / "distrofiles" / "base.yaml"), "--sdf-dir",
                 str(SAMPLES / "sdf"), "-o", str(out), "--mirror", sample_mirror,
                 "--cache-dir", str(tmp_path / "cache"), "-q", "--tag",
                 "registry.example/team/base:{arch}-1"]) == 0
    assert _repo_tags(out / "docker" / "base-arm64.tar") == ["registry.example/team/base:arm64-1"]
    assert not (out / "per-platform").exists()  # only on request


@pytest.mark.slow
def test_podman_keeps_both_platforms_tagged(base_image: Path, tmp_path: Path) -> None:
    # podman refuses a runroot path longer than 50 characters: not under tmp_path.
    runroot = tempfile.mkdtemp(prefix="sdfgen-podman-", dir="/tmp")
    try:
        _podman_loads(base_image, [
            _tool("podman"), "--root", str(tmp_path / "root"), "--runroot", runroot,
            "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager=cgroupfs",
            "--events-backend=none"])
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def _podman_loads(base_image: Path, podman: list[str]) -> None:
    for arch in TAGS:
        loaded = subprocess.run([*podman, "load", "-i", str(base_image / "docker" /
                                                            f"base-{arch}.tar")],
                                check=True, capture_output=True, text=True)
        assert f"Loaded image: {TAGS[arch]}" in loaded.stdout
    for arch, tag in TAGS.items():
        inspect = subprocess.run([*podman, "image", "inspect", "--format",
                                  "{{.Architecture}} {{.RepoTags}}", tag],
                                 check=True, capture_output=True, text=True)
        assert inspect.stdout.split() == [arch, f"[{tag}]"]


@pytest.fixture()
def dockerd() -> Iterator[list[str]]:
    """A dockerd of its own (vfs, no networking) on a socket under /tmp; yields the client argv."""
    if not shutil.which("dockerd"):
        pytest.skip("dockerd is not installed (Debian package docker.io; make setup "
                    "installs it)")
    # A unix socket path has at most 107 bytes: keep it short, not under tmp_path.
    home = Path(tempfile.mkdtemp(prefix="sdfgen-dockerd-", dir="/tmp"))
    socket = home / "docker.sock"
    log = open(home / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen(
        ["dockerd", "--data-root", str(home / "root"), "--exec-root", str(home / "exec"),
         "--pidfile", str(home / "docker.pid"), "-H", f"unix://{socket}",
         "--storage-driver", "vfs", "--iptables=false", "--ip-masq=false", "--bridge=none"],
        stdout=log, stderr=subprocess.STDOUT)
    client = [_tool("docker"), "-H", f"unix://{socket}"]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([*client, "info"], capture_output=True).returncode != 0:
            assert daemon.poll() is None, (home / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "dockerd did not start in 60 s"
            time.sleep(0.5)
        yield client
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_docker_keeps_both_platforms_tagged(base_image: Path, dockerd: list[str]) -> None:
    for arch in TAGS:
        loaded = subprocess.run([*dockerd, "load", "-i", str(base_image / "docker" /
                                                             f"base-{arch}.tar")],
                                check=True, capture_output=True, text=True)
        assert loaded.stdout.strip() == f"Loaded image: {TAGS[arch]}"
    for arch, tag in TAGS.items():
        inspect = subprocess.run([*dockerd, "image", "inspect", "--format",
                                  "{{.Architecture}} {{json .RepoTags}}", tag],
                                 check=True, capture_output=True, text=True)
        assert inspect.stdout.split() == [arch, json.dumps([tag])]


@pytest.mark.slow
def test_per_platform_layouts_serve_tools_without_platform_choice(base_image: Path,
                                                                  tmp_path: Path) -> None:
    skopeo, umoci = _tool("skopeo"), _tool("umoci")
    for arch in TAGS:
        layout = base_image / "per-platform" / arch
        # No --override-arch: the layout has only this platform's manifest.
        inspect = subprocess.run([skopeo, "inspect", f"oci:{layout}:latest"], check=True,
                                 capture_output=True, text=True)
        assert json.loads(inspect.stdout)["Architecture"] == arch
        bundle = tmp_path / f"bundle-{arch}"
        subprocess.run([umoci, "unpack", "--image", f"{layout}:latest", str(bundle)],
                       check=True, capture_output=True, text=True)
        machine = parse_platform(f"linux/{arch}").machine
        assert (bundle / "rootfs" / "lib" / f"{machine}-linux-gnu" / "libc.so.6").is_file()
    refused = subprocess.run([umoci, "unpack", "--image", f"{base_image}:latest",
                              str(tmp_path / "bundle-index")], capture_output=True, text=True)
    assert refused.returncode != 0 and "ambiguous" in refused.stderr
