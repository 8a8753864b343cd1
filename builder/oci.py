"""Write a multi-platform OCI image layout, reproducibly, from per-platform rootfs dirs.

``write_oci_layout`` turns each rootfs into one gzip'd tar layer (entries in walk
order, numeric owners from lstat with empty names, mtimes clamped to
SOURCE_DATE_EPOCH, gzip header mtime 0), an image config and a manifest, ties the
manifests together in an image index (arm64 with variant "v8"), and refers to that
index from ``index.json``: the layout buildx and podman write. The same inputs
always give the same digests. ``write_docker_archive`` writes one platform of a
layout as a ``docker load`` / ``podman load`` tarball, and ``write_platform_layout``
one platform as a layout of its own, for tools that cannot choose a manifest from an
image index (syft, umoci).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.errors import BuildError
from builder.oci_read import (
    LAYER_GZIP,
    MANIFEST,
    blob_path,
    load_platform_image,
    open_layer,
)
from builder.platform import Platform
from builder.tree import walk_rootfs

INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
CREATED = "org.opencontainers.image.created"


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config (``config`` in the OCI image config)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    workdir: str = "/"
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformImage:
    """One platform of an image: its OCI platform and the rootfs directory to pack."""

    platform: Platform
    rootfs: Path


@dataclass(frozen=True)
class Blob:
    """A content-addressed blob written to the layout."""

    media_type: str
    digest: str
    size: int

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """The OCI descriptor of this blob, with ``extra`` fields (platform, annotations)."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: Any) -> None:
        super().__init__()
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.sha256.update(view)
        self.size += len(view)
        self.sink.write(view)
        return len(view)


def _json_bytes(document: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, so equal documents hash equally."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Layout:
    """Blob writer for a layout being staged in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)

    def put(self, media_type: str, data: bytes) -> Blob:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return Blob(media_type, f"sha256:{digest}", len(data))

    def put_layer(self, rootfs: Path, source_date_epoch: int) -> tuple[Blob, str]:
        """Pack ``rootfs`` as a gzip'd tar blob; return it and its diff_id."""
        staged = self.blobs / ".layer.tmp"
        with open(staged, "wb") as raw:
            compressed = _HashingWriter(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0,
                               compresslevel=6) as gz:
                plain = _HashingWriter(gz)
                with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    _add_rootfs(tar, rootfs, source_date_epoch)
        digest = compressed.sha256.hexdigest()
        os.replace(staged, self.blobs / digest)
        return (Blob(LAYER_GZIP, f"sha256:{digest}", compressed.size),
                f"sha256:{plain.sha256.hexdigest()}")


def _add_rootfs(tar: tarfile.TarFile, rootfs: Path, source_date_epoch: int) -> None:
    """Add every rootfs entry to ``tar`` with normalized metadata; never follow symlinks."""
    first_link: dict[tuple[int, int], str] = {}
    for entry in walk_rootfs(rootfs):
        st = entry.st
        info = tarfile.TarInfo(entry.path)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = min(int(st.st_mtime), source_date_epoch)
        if stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in first_link:
                info.type, info.linkname = tarfile.LNKTYPE, first_link[key]
                tar.addfile(info)
                continue
            first_link.setdefault(key, entry.path)
            info.size = st.st_size
            with open(entry.host_path, "rb") as fh:
                tar.addfile(info, fh)
            continue
        if stat.S_ISDIR(st.st_mode):
            info.type, info.name = tarfile.DIRTYPE, entry.path + "/"
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, entry.link_target()
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            continue  # sockets cannot be carried in a layer
        tar.addfile(info)


def _image_config(platform: Platform, config: ImageConfig, diff_id: str,
                  source_date_epoch: int) -> dict[str, Any]:
    runtime: dict[str, Any] = {"Env": list(config.env), "WorkingDir": config.workdir}
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.user:
        runtime["User"] = config.user
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    created = _rfc3339(source_date_epoch)
    return {
        **platform.oci_fields(),
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created,
                     "created_by": f"sdfgen builder: rootfs of {platform} from slices"}],
    }


def write_oci_layout(out_dir: Path, images: Sequence[PlatformImage], *, source_date_epoch: int,
                     config: ImageConfig, ref_name: str = "latest") -> str:
    """Write an OCI image layout of ``images`` to ``out_dir``; return the image index digest.

    ``out_dir`` is replaced as a whole once everything is written. Raises BuildError
    for an empty or duplicate platform list, a negative epoch or an unreadable rootfs.
    """
    platforms = [image.platform for image in images]
    if not images:
        raise BuildError(f"OCI layout {out_dir}: no platform images given")
    if len(set(platforms)) != len(platforms):
        raise BuildError(f"OCI layout {out_dir}: a platform is given twice")
    if source_date_epoch < 0:
        raise BuildError(f"OCI layout {out_dir}: SOURCE_DATE_EPOCH {source_date_epoch} < 0")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        layout = _Layout(staging)
        manifests = []
        for image in images:
            layer, diff_id = layout.put_layer(image.rootfs, source_date_epoch)
            config_blob = layout.put(CONFIG, _json_bytes(
                _image_config(image.platform, config, diff_id, source_date_epoch)))
            manifest = layout.put(MANIFEST, _json_bytes({
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": config_blob.descriptor(),
                "layers": [layer.descriptor()],
                "annotations": {CREATED: _rfc3339(source_date_epoch)},
            }))
            manifests.append(manifest.descriptor(platform=image.platform.oci_fields()))
        index = layout.put(INDEX, _json_bytes(
            {"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}))
        (staging / "index.json").write_bytes(_json_bytes({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [index.descriptor(annotations={REF_NAME: ref_name})],
        }))
        (staging / "oci-layout").write_bytes(_json_bytes({"imageLayoutVersion": "1.0.0"}))
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return index.digest


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging`` (directories cannot be os.replace'd over)."""
    if out_dir.exists() or out_dir.is_symlink():
        if not (out_dir / "oci-layout").is_file() and any(out_dir.iterdir()):
            raise BuildError(f"OCI layout {out_dir}: exists and is not an OCI layout; "
                             "refusing to replace it")
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old."))
        os.replace(out_dir, old / "layout")
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


def write_platform_layout(layout_dir: Path, platform: Platform, out_dir: Path, *,
                          ref_name: str = "latest") -> Path:
    """Write ``platform`` of the layout as an OCI layout of its own at ``out_dir``; return it.

    Its ``index.json`` refers straight to the platform's manifest (no image index), so
    a tool that takes the first manifest gets this platform. The blobs are the same
    bytes, hard-linked where the file system allows. ``out_dir`` is replaced as a whole.
    """
    image = load_platform_image(layout_dir, platform)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        blobs = staging / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        for digest in (image.manifest_digest, image.config_digest,
                       *(str(layer["digest"]) for layer in image.layers)):
            source = blob_path(layout_dir, digest)
            try:
                os.link(source, blobs / source.name)
            except OSError:
                shutil.copyfile(source, blobs / source.name)
        manifest = Blob(MANIFEST, image.manifest_digest,
                        blob_path(layout_dir, image.manifest_digest).stat().st_size)
        (staging / "index.json").write_bytes(_json_bytes({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [manifest.descriptor(platform=platform.oci_fields(),
                                              annotations={REF_NAME: ref_name})],
        }))
        (staging / "oci-layout").write_bytes(_json_bytes({"imageLayoutVersion": "1.0.0"}))
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def write_docker_archive(layout_dir: Path, platform: Platform, out: Path, *,
                         repo_tag: str, source_date_epoch: int = 0) -> Path:
    """Write ``platform`` of the layout as a docker-archive tarball at ``out``; return it.

    The archive holds ``manifest.json``, the image config and each layer
    uncompressed as ``<diff_id hex>/layer.tar``, which is what ``docker load`` and
    ``podman load`` read. Entry mtimes are ``source_date_epoch``.
    """
    image = load_platform_image(layout_dir, platform)
    config_name = image.config_digest.removeprefix("sha256:") + ".json"
    layer_names = []
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, \
                tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for layer, diff_id in zip(image.layers, image.diff_ids, strict=True):
                name = diff_id.removeprefix("sha256:")
                _add_bytes(tar, name + "/", b"", source_date_epoch, tarfile.DIRTYPE)
                with tempfile.TemporaryFile(dir=out.parent) as plain:
                    with open_layer(layout_dir, layer) as stream:
                        shutil.copyfileobj(stream, plain, 1 << 20)
                    info = _tarinfo(name + "/layer.tar", plain.tell(), source_date_epoch)
                    plain.seek(0)
                    tar.addfile(info, plain)
                layer_names.append(name + "/layer.tar")
            _add_bytes(tar, config_name, image.config_bytes, source_date_epoch)
            _add_bytes(tar, "manifest.json", _json_bytes(
                [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]),
                source_date_epoch)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _tarinfo(name: str, size: int, mtime: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.type = size, mtime, kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int,
               kind: bytes = tarfile.REGTYPE) -> None:
    tar.addfile(_tarinfo(name, len(data), mtime, kind), io.BytesIO(data) if data else None)
