"""builder: assemble distroless images from slices, write them as OCI images, smoke-run them.

The back end is public here: ``write_oci_layout`` / ``write_docker_archive`` turn
per-platform root filesystems into images, and ``smoke`` runs a command in an image
(chroot through binfmt_misc, or a QEMU-booted guest) and returns a ``SmokeResult``.
"""

from __future__ import annotations

from builder.errors import BuildError, SmokeSetupError
from builder.oci import ImageConfig, PlatformImage, write_docker_archive, write_oci_layout
from builder.platform import AMD64, ARM64, Platform, parse_platform
from builder.smoke import SmokeResult, smoke

__all__ = [
    "AMD64",
    "ARM64",
    "BuildError",
    "ImageConfig",
    "Platform",
    "PlatformImage",
    "SmokeResult",
    "SmokeSetupError",
    "parse_platform",
    "smoke",
    "write_docker_archive",
    "write_oci_layout",
]
