"""Tests of builder.oci / builder.oci_read: reproducible OCI layouts and docker archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from builder.errors import BuildError
from builder.oci import (
    ImageConfig,
    PlatformImage,
    write_docker_archive,
    write_oci_layout,
    write_platform_layout,
)
from builder.oci_read import load_platform_image, unpack_image
from builder.platform import AMD64, ARM64, Platform, parse_platform

SDE = 1_700_000_000
CONFIG = ImageConfig(entrypoint=("/usr/bin/hello",), cmd=("--greet",),
                     env=("PATH=/usr/bin:/bin", "LANG=C.UTF-8"), workdir="/srv", user="1000:1000",
                     labels={"org.opencontainers.image.title": "hello"})


def _make_rootfs(root: Path, arch: str) -> Path:
    """A small tree with every entry kind the layer writer must handle."""
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "srv").mkdir()
    hello = root / "usr" / "bin" / "hello"
    hello.write_bytes(b"\x7fELF fake " + arch.encode())
    hello.chmod(0o4755)  # setuid must survive
    (root / "etc" / "os-release").write_text(f"ID=test\nARCH={arch}\n")
    os.link(root / "etc" / "os-release", root / "usr" / "os-release")
    (root / "bin").symlink_to("usr/bin")
    # Symlinks that point out of the rootfs are entries, never followed.
    (root / "etc" / "passwd").symlink_to("/etc/passwd")
    (root / "usr" / "hostlib").symlink_to("/usr/lib")
    os.mkfifo(root / "srv" / "fifo")
    owned = root / "srv" / "data"
    owned.write_text("owned by 1234:5678\n")
    os.chown(owned, 1234, 5678)
    os.utime(owned, (SDE - 1000, SDE - 1000))  # older than SDE: kept
    os.utime(hello, (SDE + 10**6, SDE + 10**6))  # newer: clamped
    return root


@pytest.fixture
def rootfs_pair(tmp_path: Path) -> list[PlatformImage]:
    return [PlatformImage(AMD64, _make_rootfs(tmp_path / "amd64", "x86_64")),
            PlatformImage(ARM64, _make_rootfs(tmp_path / "arm64", "aarch64"))]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def _json_blob(layout: Path, descriptor: dict[str, Any]) -> dict[str, Any]:
    data = _blob(layout, descriptor["digest"])
    assert len(data) == descriptor["size"]
    assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
    return dict(json.loads(data))


def test_same_inputs_give_same_digests(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    first = write_oci_layout(tmp_path / "one", rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    # Reading the tree changes atimes; copying changes every mtime to "now".
    for image in rootfs_pair:
        for path in image.rootfs.rglob("*"):
            if not path.is_symlink() and path.is_file():
                os.utime(path, (SDE + 5, path.lstat().st_mtime))
    second = write_oci_layout(tmp_path / "two", rootfs_pair, source_date_epoch=SDE,
                              config=CONFIG)
    assert first == second and first.startswith("sha256:")
    blobs = sorted(p.name for p in (tmp_path / "one" / "blobs" / "sha256").iterdir())
    assert blobs == sorted(p.name for p in (tmp_path / "two" / "blobs" / "sha256").iterdir())
    assert (tmp_path / "one" / "index.json").read_bytes() == (
        tmp_path / "two" / "index.json").read_bytes()
    # Another epoch is another image.
    third = write_oci_layout(tmp_path / "three", rootfs_pair, source_date_epoch=SDE + 1,
                             config=CONFIG)
    assert third != first


def test_layout_is_valid(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    digest = write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    top = json.loads((layout / "index.json").read_text())
    assert top["schemaVersion"] == 2
    (ref,) = top["manifests"]
    assert ref["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert ref["digest"] == digest
    assert ref["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    index = _json_blob(layout, ref)
    platforms = [m["platform"] for m in index["manifests"]]
    assert platforms == [{"architecture": "amd64", "os": "linux"},
                         {"architecture": "arm64", "os": "linux", "variant": "v8"}]
    for descriptor, image in zip(index["manifests"], rootfs_pair, strict=True):
        assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        manifest = _json_blob(layout, descriptor)
        assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
        config = _json_blob(layout, manifest["config"])
        (layer,) = manifest["layers"]
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        compressed = _blob(layout, layer["digest"])
        assert len(compressed) == layer["size"]
        assert compressed[4:8] == b"\0\0\0\0"  # gzip header mtime
        plain = gzip.decompress(compressed)
        assert config["rootfs"] == {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]}
        assert config["created"] == "2023-11-14T22:13:20Z"
        assert config["history"][0]["created"] == config["created"]
        assert {k: config[k] for k in ("os", "architecture")} == {
            "os": "linux", "architecture": image.platform.architecture}
        assert config.get("variant", "") == image.platform.variant
        assert config["config"] == {
            "Entrypoint": ["/usr/bin/hello"], "Cmd": ["--greet"],
            "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "WorkingDir": "/srv",
            "User": "1000:1000", "Labels": {"org.opencontainers.image.title": "hello"}}
        _check_layer(plain, image.platform.machine)


def _check_layer(plain: bytes, machine: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
        assert tar.extractfile("usr/bin/hello").read().endswith(machine.encode())  # type: ignore[union-attr]
    # Parents before children, siblings in byte order.
    assert names == ["bin", "etc", "etc/os-release", "etc/passwd", "srv", "srv/data",
                     "srv/fifo", "usr", "usr/bin", "usr/bin/hello", "usr/hostlib",
                     "usr/os-release"]
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    assert (members["srv/data"].uid, members["srv/data"].gid) == (1234, 5678)
    assert members["srv/data"].mtime == SDE - 1000
    assert members["usr/bin/hello"].mtime == SDE
    assert members["usr/bin/hello"].mode == 0o4755
    assert members["etc/passwd"].issym() and members["etc/passwd"].linkname == "/etc/passwd"
    assert members["usr/hostlib"].issym()  # not descended into
    assert members["bin"].linkname == "usr/bin"
    assert members["usr/os-release"].islnk()
    assert members["usr/os-release"].linkname == "etc/os-release"
    assert members["srv/fifo"].isfifo()
    assert members["usr"].isdir()


def test_unpack_round_trip(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    dest = tmp_path / "unpacked"
    image = unpack_image(layout, ARM64, dest)
    assert image.config["architecture"] == "arm64"
    assert (dest / "etc" / "os-release").read_text().endswith("ARCH=aarch64\n")
    assert os.readlink(dest / "etc" / "passwd") == "/etc/passwd"
    assert (dest / "usr" / "bin" / "hello").stat().st_mode & 0o7777 == 0o4755
    data = (dest / "srv" / "data").stat()
    assert (data.st_uid, data.st_gid) == (1234, 5678)
    assert (dest / "usr" / "os-release").stat().st_ino == (dest / "etc" / "os-release").stat(
    ).st_ino


def test_docker_archive(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    out = write_docker_archive(layout, ARM64, tmp_path / "arm64.tar", repo_tag="hello:1",
                               source_date_epoch=SDE)
    again = write_docker_archive(layout, ARM64, tmp_path / "again.tar", repo_tag="hello:1",
                                 source_date_epoch=SDE)
    assert out.read_bytes() == again.read_bytes()
    image = load_platform_image(layout, ARM64)
    with tarfile.open(out) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert entry["RepoTags"] == ["hello:1"]
        assert tar.extractfile(entry["Config"]).read() == image.config_bytes  # type: ignore[union-attr]
        (layer_name,) = entry["Layers"]
        layer = tar.extractfile(layer_name).read()  # type: ignore[union-attr]
        assert "sha256:" + hashlib.sha256(layer).hexdigest() == image.diff_ids[0]
        assert all(m.mtime == SDE for m in tar.getmembers())


def _skopeo() -> str:
    skopeo = shutil.which("skopeo")
    assert skopeo, "skopeo is needed (Debian package skopeo; make setup installs it)"
    return skopeo


def test_skopeo_reads_layout_and_archive(tmp_path: Path,
                                         rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    skopeo = _skopeo()
    for image in rootfs_pair:
        platform = image.platform
        argv = [skopeo, "--override-os", "linux", "--override-arch", platform.architecture]
        if platform.variant:
            argv += ["--override-variant", platform.variant]
        inspect = subprocess.run([*argv, "inspect", f"oci:{layout}:latest"], check=True,
                                 capture_output=True, text=True)
        facts = json.loads(inspect.stdout)
        assert facts["Architecture"] == platform.architecture
        assert facts["Labels"] == {"org.opencontainers.image.title": "hello"}
        copied = tmp_path / f"dir-{platform.architecture}"
        subprocess.run([*argv, "copy", "-q", f"oci:{layout}:latest", f"dir:{copied}"],
                       check=True, capture_output=True, text=True)
        loaded = load_platform_image(layout, platform)
        assert (copied / loaded.layers[0]["digest"].removeprefix("sha256:")).is_file()
        archive = write_docker_archive(layout, platform, tmp_path / f"{platform.architecture}.tar",
                                       repo_tag="hello:1")
        via_archive = subprocess.run([skopeo, "inspect", "--config",
                                      f"docker-archive:{archive}"],
                                     check=True, capture_output=True, text=True)
        assert json.loads(via_archive.stdout)["rootfs"]["diff_ids"] == list(loaded.diff_ids)


def test_write_rejects_bad_input(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    with pytest.raises(BuildError, match=r"OCI layout .*out: no platform images given"):
        write_oci_layout(tmp_path / "out", [], source_date_epoch=SDE, config=CONFIG)
    with pytest.raises(BuildError, match="a platform is given twice"):
        write_oci_layout(tmp_path / "out", [rootfs_pair[0], rootfs_pair[0]],
                         source_date_epoch=SDE, config=CONFIG)
    with pytest.raises(BuildError, match="SOURCE_DATE_EPOCH -1 < 0"):
        write_oci_layout(tmp_path / "out", rootfs_pair, source_date_epoch=-1, config=CONFIG)
    missing = PlatformImage(AMD64, tmp_path / "nope")
    with pytest.raises(BuildError, match=r"rootfs .*nope: No such file or directory"):
        write_oci_layout(tmp_path / "out", [missing], source_date_epoch=SDE, config=CONFIG)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no leftovers
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(BuildError, match="exists and is not an OCI layout; refusing"):
        write_oci_layout(precious, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_rewrite_replaces_layout(tmp_path: Path, rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    digest = write_oci_layout(layout, rootfs_pair[:1], source_date_epoch=SDE, config=CONFIG)
    assert json.loads((layout / "index.json").read_text())["manifests"][0]["digest"] == digest
    with pytest.raises(BuildError, match=r"no image for platform linux/arm64/v8"):
        load_platform_image(layout, ARM64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amd64", "arm64", "image"]


def _hand_layout(root: Path, layer: bytes, platform: Platform = AMD64) -> Path:
    """A one-manifest layout (manifest listed in index.json directly) with ``layer``."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes, media_type: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    layer_desc = put(layer, "application/vnd.oci.image.layer.v1.tar")
    config = put(json.dumps({"architecture": platform.architecture, "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [layer_desc["digest"]]}}).encode(),
        "application/vnd.oci.image.config.v1+json")
    manifest = put(json.dumps({"schemaVersion": 2, "config": config,
                               "layers": [layer_desc]}).encode(),
                   "application/vnd.oci.image.manifest.v1+json")
    (root / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [{**manifest, "platform": platform.oci_fields()}]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return root


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info


def test_unpack_refuses_escapes(tmp_path: Path) -> None:
    dotdot = _hand_layout(tmp_path / "dotdot", _tar((_entry("../evil"), b"x")))
    with pytest.raises(BuildError, match=r"cannot unpack '../evil'"):
        unpack_image(dotdot, AMD64, tmp_path / "d1" / "root")
    assert not (tmp_path / "d1" / "evil").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    through_link = _hand_layout(tmp_path / "link", _tar(
        (_entry("lib", tarfile.SYMTYPE, str(outside)), b""), (_entry("lib/evil"), b"x")))
    with pytest.raises(BuildError, match=r"cannot unpack 'lib/evil'"):
        unpack_image(through_link, AMD64, tmp_path / "d2")
    assert list(outside.iterdir()) == []


def test_unpack_applies_whiteouts(tmp_path: Path) -> None:
    layout = _hand_layout(tmp_path / "wh", _tar((_entry(".wh.a"), b""), (_entry("c"), b"new")))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a").write_text("from a lower layer")
    (dest / "b").write_text("kept")
    unpack_image(layout, AMD64, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["b", "c"]


def test_reader_rejects_broken_layouts(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"OCI layout .*empty: no oci-layout file"):
        load_platform_image(tmp_path / "empty", AMD64)
    layout = _hand_layout(tmp_path / "bad", _tar((_entry("a"), b"1")))
    with pytest.raises(BuildError, match=r"no image for platform linux/arm64/v8"):
        load_platform_image(layout, ARM64)
    for blob in (layout / "blobs" / "sha256").iterdir():
        if blob.read_bytes() == _tar((_entry("a"), b"1")):
            blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(BuildError, match=r"layer blob sha256:[0-9a-f]{64} does not match"):
        unpack_image(layout, AMD64, tmp_path / "dest")
    (layout / "index.json").write_text("{nope")
    with pytest.raises(BuildError, match=r"OCI layout .*bad: index.json is not JSON"):
        load_platform_image(layout, AMD64)


def test_parse_platform() -> None:
    assert parse_platform("linux/arm64") == ARM64
    assert parse_platform("linux/arm64/v8") == ARM64
    assert parse_platform("aarch64") == ARM64
    assert parse_platform("x86_64") == AMD64 == parse_platform("linux/amd64")
    assert str(ARM64) == "linux/arm64/v8" and ARM64.debian_arch == "arm64"
    with pytest.raises(BuildError, match=r"platform 'linux/riscv64': unsupported"):
        parse_platform("linux/riscv64")
    with pytest.raises(BuildError, match=r"platform 'linux/arm64/v7': only variant v8"):
        parse_platform("linux/arm64/v7")


def test_platform_layout_has_only_its_manifest(tmp_path: Path,
                                               rootfs_pair: list[PlatformImage]) -> None:
    layout = tmp_path / "image"
    write_oci_layout(layout, rootfs_pair, source_date_epoch=SDE, config=CONFIG)
    single = write_platform_layout(layout, ARM64, tmp_path / "only-arm64")
    image = load_platform_image(layout, ARM64)
    (descriptor,) = json.loads((single / "index.json").read_text())["manifests"]
    assert descriptor["digest"] == image.manifest_digest
    assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert descriptor["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert descriptor["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    blobs = {p.name for p in (single / "blobs" / "sha256").iterdir()}
    assert blobs == {d.removeprefix("sha256:") for d in (
        image.manifest_digest, image.config_digest, image.layers[0]["digest"])}
    assert load_platform_image(single, ARM64).diff_ids == image.diff_ids  # blobs check out
    # Without --override-arch skopeo takes the one manifest there is.
    inspect = subprocess.run([_skopeo(), "inspect", f"oci:{single}:latest"], check=True,
                             capture_output=True, text=True)
    assert json.loads(inspect.stdout)["Architecture"] == "arm64"
