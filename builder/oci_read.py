"""Read an OCI image layout: find a platform's manifest, check blobs, unpack layers.

Used to smoke-run an image from its layout and to write docker archives. Every blob
is checked against its digest before use, and layers are unpacked with tarfile's
path checks (no absolute paths, nothing outside the destination, not even through
a symlink in the tree) while keeping modes and numeric owners as the layer says.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from builder.errors import BuildError
from builder.platform import Platform

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = (MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
_GZIP_LAYERS = (LAYER_GZIP, "application/vnd.docker.image.rootfs.diff.tar.gzip")
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class LoadedImage:
    """One platform's image in a layout: manifest, config and layer descriptors."""

    manifest_digest: str
    config_digest: str
    config_bytes: bytes
    layers: tuple[dict[str, Any], ...]
    diff_ids: tuple[str, ...]

    @property
    def config(self) -> dict[str, Any]:
        """The parsed image config document."""
        return dict(json.loads(self.config_bytes))


def blob_path(layout_dir: Path, digest: str) -> Path:
    """Where the blob ``digest`` lies in the layout; BuildError for a digest not sha256."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not hexdigest.isalnum():
        raise BuildError(f"OCI layout {layout_dir}: unsupported digest {digest!r}")
    return layout_dir / "blobs" / "sha256" / hexdigest


def read_blob(layout_dir: Path, descriptor: dict[str, Any]) -> bytes:
    """The bytes of a small blob (manifest, config, index), checked against its digest."""
    digest = str(descriptor.get("digest", ""))
    path = blob_path(layout_dir, digest)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"OCI layout {layout_dir}: blob {digest}: {exc.strerror}") from exc
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest or len(data) != descriptor.get(
            "size", len(data)):
        raise BuildError(f"OCI layout {layout_dir}: blob {digest} does not match its digest "
                         "or size")
    return data


def _json(layout_dir: Path, data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise BuildError(f"OCI layout {layout_dir}: {what} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BuildError(f"OCI layout {layout_dir}: {what} is not a JSON object")
    return document


def _matches(descriptor: dict[str, Any], platform: Platform) -> bool:
    fields = descriptor.get("platform") or {}
    return bool(fields.get("os") == platform.os
                and fields.get("architecture") == platform.architecture
                and fields.get("variant", "") in ("", platform.variant))


def _find_manifest(layout_dir: Path, index: dict[str, Any], platform: Platform,
                   depth: int = 0) -> dict[str, Any] | None:
    """Search an index (and the indexes it refers to) for ``platform``'s manifest."""
    for descriptor in index.get("manifests", []):
        media_type = descriptor.get("mediaType")
        if media_type in INDEX_TYPES and depth < 4:
            nested = _json(layout_dir, read_blob(layout_dir, descriptor),
                           f"index {descriptor.get('digest')}")
            found = _find_manifest(layout_dir, nested, platform, depth + 1)
            if found is not None:
                return found
        elif media_type in MANIFEST_TYPES and _matches(descriptor, platform):
            return dict(descriptor)
    return None


def load_platform_image(layout_dir: Path, platform: Platform) -> LoadedImage:
    """Find ``platform``'s image in the layout at ``layout_dir``; raise BuildError if absent."""
    layout_dir = Path(layout_dir)
    if not (layout_dir / "oci-layout").is_file():
        raise BuildError(f"OCI layout {layout_dir}: no oci-layout file")
    try:
        index_bytes = (layout_dir / "index.json").read_bytes()
    except OSError as exc:
        raise BuildError(f"OCI layout {layout_dir}: index.json: {exc.strerror}") from exc
    index = _json(layout_dir, index_bytes, "index.json")
    descriptor = _find_manifest(layout_dir, index, platform)
    if descriptor is None:
        raise BuildError(f"OCI layout {layout_dir}: no image for platform {platform}")
    manifest = _json(layout_dir, read_blob(layout_dir, descriptor),
                     f"manifest {descriptor['digest']}")
    config_descriptor = manifest.get("config") or {}
    config_bytes = read_blob(layout_dir, config_descriptor)
    config = _json(layout_dir, config_bytes, f"config {config_descriptor.get('digest')}")
    layers = tuple(manifest.get("layers", []))
    diff_ids = tuple((config.get("rootfs") or {}).get("diff_ids", []))
    if len(layers) != len(diff_ids):
        raise BuildError(f"OCI layout {layout_dir}: manifest {descriptor['digest']} has "
                         f"{len(layers)} layers but its config {len(diff_ids)} diff_ids")
    return LoadedImage(str(descriptor["digest"]), str(config_descriptor["digest"]),
                       config_bytes, layers, diff_ids)


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


@contextmanager
def open_layer(layout_dir: Path, descriptor: dict[str, Any]) -> Iterator[IO[bytes]]:
    """Open a layer blob, checked against its digest, as an uncompressed tar stream."""
    digest = str(descriptor.get("digest", ""))
    path = blob_path(layout_dir, digest)
    if not path.is_file():
        raise BuildError(f"OCI layout {layout_dir}: layer blob {digest} is missing")
    if _file_sha256(path) != digest:
        raise BuildError(f"OCI layout {layout_dir}: layer blob {digest} does not match "
                         "its digest")
    media_type = descriptor.get("mediaType")
    with open(path, "rb") as raw:
        if media_type in _GZIP_LAYERS:
            with gzip.GzipFile(fileobj=raw, mode="rb") as plain:
                yield cast(IO[bytes], plain)
        elif media_type == LAYER_TAR:
            yield raw
        else:
            raise BuildError(f"OCI layout {layout_dir}: layer {digest} has unsupported "
                             f"media type {media_type!r}")


def _keep_mode_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's 'tar' path checks, but keep setuid and group/other write bits."""
    safe = tarfile.tar_filter(member, dest)
    return safe.replace(mode=member.mode, deep=False)


def _apply_whiteout(dest: Path, name: str) -> None:
    parent, _, base = name.strip("/").rpartition("/")
    root = dest.resolve()
    target_dir = (dest / parent).resolve()
    if target_dir != root and root not in target_dir.parents:
        return  # a whiteout that points outside dest removes nothing
    if base == _OPAQUE:
        for child in target_dir.iterdir() if target_dir.is_dir() else ():
            _remove(child)
    else:
        _remove(target_dir / base.removeprefix(_WHITEOUT))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def unpack_image(layout_dir: Path, platform: Platform, dest: Path) -> LoadedImage:
    """Apply ``platform``'s layers in order onto ``dest``; return the loaded image.

    Whiteout entries (``.wh.NAME``, ``.wh..wh..opq``) remove what lower layers added.
    Raises BuildError for a bad layout or a layer entry that would escape ``dest``.
    """
    image = load_platform_image(layout_dir, platform)
    dest.mkdir(parents=True, exist_ok=True)
    for descriptor in image.layers:
        with open_layer(layout_dir, descriptor) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                base = member.name.rstrip("/").rpartition("/")[2]
                if base.startswith(_WHITEOUT):
                    _apply_whiteout(dest, member.name)
                    continue
                try:
                    tar.extract(member, dest, numeric_owner=True, filter=_keep_mode_filter)
                except (tarfile.FilterError, OSError) as exc:
                    raise BuildError(f"OCI layout {layout_dir}: layer {descriptor['digest']}: "
                                     f"cannot unpack {member.name!r}: {exc}") from exc
    return image
