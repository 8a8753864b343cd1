"""Benchmark of the image and smoke-run back end: image build time and size, boot times.

Builds a rootfs per platform from Debian bookworm's libc6 (+ libgcc-s1, libstdc++6)
and the samples/apps programs, writes the OCI layout and docker archives, and
smoke-runs "hello" in chroot and system mode on amd64 and arm64. Prints figures;
asserts nothing. Run as root: ``.venv/bin/python benchmarks/builder_smoke.py``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.debian import download_debs, extract_deb  # noqa: E402
from builder.oci import (  # noqa: E402
    ImageConfig,
    PlatformImage,
    write_docker_archive,
    write_oci_layout,
)
from builder.oci_read import load_platform_image  # noqa: E402
from builder.platform import AMD64, ARM64  # noqa: E402
from builder.smoke import smoke  # noqa: E402


def _tree_size(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    """Build, write and smoke-run; print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="smoke runs per platform and mode")
    parser.add_argument("--cache", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    apps = args.cache / "apps"
    subprocess.run(["sh", str(ROOT / "samples" / "apps" / "build.sh"), str(apps)], check=True)
    with tempfile.TemporaryDirectory(prefix="bench-builder-") as tmp:
        images = []
        for platform in (AMD64, ARM64):
            started = time.monotonic()
            debs = download_debs(["libc6", "libgcc-s1", "libstdc++6"], platform.debian_arch,
                                 args.cache / "debs" / platform.debian_arch,
                                 state_root=args.cache / "apt" / platform.debian_arch)
            root = Path(tmp) / platform.architecture
            for deb in debs:
                extract_deb(deb, root)
            (root / "usr" / "bin").mkdir(exist_ok=True)
            shutil.copy2(apps / platform.machine / "hello", root / "usr" / "bin" / "hello")
            print(f"rootfs {platform}: {_tree_size(root) / 1e6:.1f} MB in "
                  f"{time.monotonic() - started:.2f} s")
            images.append(PlatformImage(platform, root))
        layout = Path(tmp) / "image"
        started = time.monotonic()
        digest = write_oci_layout(layout, images, source_date_epoch=1_700_000_000,
                                  config=ImageConfig(entrypoint=("/usr/bin/hello",)))
        print(f"OCI layout (2 platforms): {time.monotonic() - started:.2f} s, {digest}")
        for platform in (AMD64, ARM64):
            image = load_platform_image(layout, platform)
            started = time.monotonic()
            archive = write_docker_archive(layout, platform, Path(tmp) / "a.tar",
                                           repo_tag="hello:bench")
            print(f"image {platform}: layer {image.layers[0]['size'] / 1e6:.1f} MB gzip, "
                  f"docker archive {archive.stat().st_size / 1e6:.1f} MB in "
                  f"{time.monotonic() - started:.2f} s")
        for platform in (AMD64, ARM64):
            for mode in ("chroot", "system"):
                for run in range(args.runs):
                    started = time.monotonic()
                    result = smoke(layout, platform, mode=mode,  # type: ignore[arg-type]
                                   cache_dir=args.cache, timeout=300)
                    total = time.monotonic() - started
                    print(f"smoke {platform} {mode} run {run + 1}: passed={result.passed} "
                          f"boot-to-result {result.seconds:.2f} s, total {total:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
