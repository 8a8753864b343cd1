"""Make foreign (aarch64) binaries runnable in a chroot through binfmt_misc.

The qemu-aarch64 handler must carry the F (fix-binary) flag: the kernel then opens
the host's qemu-aarch64-static once, at registration, and uses it inside any chroot.
Without F the interpreter path would be looked up inside the chroot, and ``qemu -L``
instead would fall back to host files and hide what the image is missing.
Debian's qemu-user-static registers the handler with flags "OCF" via binfmt-support.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from builder.errors import SmokeSetupError
from builder.platform import Platform

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True)
class BinfmtHandler:
    """A registered binfmt_misc handler as the kernel reports it."""

    name: str
    enabled: bool
    interpreter: str
    flags: str


def read_handler(name: str, binfmt_dir: Path = BINFMT_DIR) -> BinfmtHandler | None:
    """The handler ``name`` from ``binfmt_dir``, or None when it is not registered."""
    try:
        text = (binfmt_dir / name).read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SmokeSetupError(f"binfmt handler {binfmt_dir / name}: {exc.strerror}") from exc
    fields: dict[str, str] = {}
    lines = text.splitlines()
    for line in lines[1:]:
        # The kernel writes "interpreter PATH" but "flags: PF".
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    return BinfmtHandler(name, bool(lines) and lines[0].strip() == "enabled",
                         fields.get("interpreter", ""), fields.get("flags", ""))


def _mounted(binfmt_dir: Path) -> bool:
    # os.path.exists, unlike Path.exists, answers False rather than raising on EACCES.
    return os.path.exists(binfmt_dir / "register")


def ensure_binfmt(platform: Platform, binfmt_dir: Path = BINFMT_DIR) -> BinfmtHandler | None:
    """Make ``platform``'s binaries run in a chroot; return the handler (None if native).

    Mounts binfmt_misc when needed and enables Debian's qemu handler with
    ``update-binfmts --enable``. Raises SmokeSetupError with what to install or
    fix when that is impossible (not root, no binfmt-support, handler without F).
    """
    if platform.machine == os.uname().machine:
        return None
    name = f"qemu-{platform.machine}"
    if not _mounted(binfmt_dir):
        if os.geteuid() != 0:
            raise SmokeSetupError(f"binfmt_misc is not mounted at {binfmt_dir} and mounting "
                                  "it needs root")
        done = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt_dir)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not _mounted(binfmt_dir):
            raise SmokeSetupError(f"cannot mount binfmt_misc at {binfmt_dir}: "
                                  f"{done.stderr.strip() or 'no register file after mount'}")
    handler = read_handler(name, binfmt_dir)
    if handler is None or not handler.enabled:
        if os.geteuid() != 0:
            raise SmokeSetupError(f"binfmt handler {name} is not enabled and enabling it "
                                  "needs root")
        if shutil.which("update-binfmts") is None:
            raise SmokeSetupError(f"binfmt handler {name}: update-binfmts not found "
                                  "(Debian: binfmt-support qemu-user-static)")
        done = subprocess.run(["update-binfmts", "--enable", name],
                              capture_output=True, text=True)
        handler = read_handler(name, binfmt_dir)
        if handler is None or not handler.enabled:
            detail = (done.stderr.strip().splitlines() or ["handler still not enabled"])[-1]
            raise SmokeSetupError(f"binfmt handler {name}: update-binfmts --enable failed: "
                                  f"{detail} (Debian: qemu-user-static)")
    if "F" not in handler.flags:
        raise SmokeSetupError(f"binfmt handler {name} lacks the F (fix-binary) flag "
                              f"(flags {handler.flags!r}); re-register it from "
                              f"/usr/lib/binfmt.d/{name}.conf")
    return handler
