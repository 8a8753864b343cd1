"""Linux kernels for system-mode smoke runs: Debian's generic kernel per architecture.

``debian_kernel`` resolves ``linux-image-<arch>`` to the current versioned kernel
package, downloads it with a private apt state (see ``builder.debian``) and keeps
only ``/boot/vmlinuz-*`` under ``<cache>/<arch>/``. The initramfs is the whole root
filesystem, so no kernel modules are needed: Debian builds the serial console
(8250 / PL011), devtmpfs and gzip initramfs support into the kernel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from builder.debian import download_debs, extract_deb, resolve_depends
from builder.errors import BuildError
from builder.platform import Platform


def debian_kernel(platform: Platform, cache_dir: Path, *, apt_root: Path,
                  override: Path | None = None) -> Path:
    """Return a kernel image for ``platform``: ``override`` if given, else Debian's, cached.

    The cached kernel is ``<cache_dir>/<debian arch>/vmlinuz``; it is downloaded only
    when missing, with the private apt state ``<apt_root>/<debian arch>``. Raises
    BuildError naming the package when apt or dpkg-deb fail.
    """
    if override is not None:
        if not override.is_file():
            raise BuildError(f"kernel {override}: no such file")
        return override
    arch_dir = cache_dir / platform.debian_arch
    kernel = arch_dir / "vmlinuz"
    if kernel.is_file():
        return kernel
    arch_dir.mkdir(parents=True, exist_ok=True)
    state_root = apt_root / platform.debian_arch
    meta = f"linux-image-{platform.debian_arch}"
    package = resolve_depends(state_root, platform.debian_arch, meta)
    (deb,) = download_debs([package], platform.debian_arch, arch_dir / "debs",
                           state_root=state_root)
    with tempfile.TemporaryDirectory(dir=arch_dir) as tmp:
        extract_deb(deb, Path(tmp), ["./boot/vmlinuz-*"])
        images = sorted((Path(tmp) / "boot").glob("vmlinuz-*"))
        if not images:
            raise BuildError(f"{deb}: no /boot/vmlinuz-* inside")
        staged = arch_dir / f".vmlinuz.{os.getpid()}.tmp"  # concurrent runs don't collide
        shutil.copyfile(images[-1], staged)
        (arch_dir / "version").write_text(images[-1].name.removeprefix("vmlinuz-") + "\n")
        os.replace(staged, kernel)
    # The .deb (70+ MB with modules) is not needed once the image is out.
    shutil.rmtree(arch_dir / "debs", ignore_errors=True)
    return kernel
