"""Smoke-run a command in a built image: in a chroot or in a QEMU-booted guest.

``smoke`` takes a rootfs directory or an OCI image layout, runs one command for one
platform and returns a ``SmokeResult``: a failed command is a result with
``passed=False`` and a reason that carries the error the image produced (e.g. the
dynamic loader's "error while loading shared libraries: libssl.so.3"), not an
exception. Exceptions (``SmokeSetupError``) mean the run could not be started.

- ``chroot``: the command runs chrooted in a scratch copy of the rootfs (an overlay
  where the machine allows, see ``builder.scratch``); aarch64 binaries run through
  binfmt_misc with the F flag, so the emulator comes from the host and every library
  from the image only.
- ``system``: the rootfs becomes an initramfs with a static harness as init, booted
  under qemu-system-x86_64 / qemu-system-aarch64 with a Debian kernel.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from builder.binfmt import ensure_binfmt
from builder.elfinterp import explain_exec_failure
from builder.errors import SmokeSetupError
from builder.initramfs import build_harness, write_initramfs
from builder.kernel import debian_kernel
from builder.oci_read import unpack_image
from builder.platform import Platform
from builder.qemu import boot, qemu_argv
from builder.scratch import scratch_root

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Lines of the command's output worth quoting in a failure reason, best first.
_NOTABLE = (re.compile(r".*error while loading shared libraries.*"),
            re.compile(r".*(cannot execute|not found|No such file|Segmentation fault).*"))

# qemu-user, started by binfmt_misc, reports a missing ELF interpreter itself (exit
# 255) where a kernel would fail the exec with ENOENT.
_QEMU_NO_INTERP = re.compile(r"^\S*(?:qemu|binfmt)\S*: Could not open '([^']*)': (.*)$", re.M)

Mode = Literal["chroot", "system"]


@dataclass(frozen=True)
class SmokeResult:
    """The outcome of one smoke run; ``exit_code`` is None when the command never finished."""

    platform: Platform
    mode: str
    command: tuple[str, ...]
    passed: bool
    exit_code: int | None
    output: str
    log: str
    reason: str
    seconds: float


@dataclass(frozen=True)
class _Run:
    exit_code: int | None
    output: str
    log: str
    problem: str
    seconds: float


def smoke(rootfs_or_image: Path, platform: Platform, command: Sequence[str] = (), *,
          mode: Mode = "chroot", expect_exit: int = 0, expect_output: str | None = None,
          timeout: float = 120.0, env: Sequence[str] | None = None, workdir: str | None = None,
          cache_dir: Path = Path("build"), kernel: Path | None = None,
          accel: str = "tcg") -> SmokeResult:
    """Run ``command`` in the image for ``platform`` and judge it; return a SmokeResult.

    ``rootfs_or_image`` is a rootfs directory or an OCI layout (the platform's image
    is unpacked; an empty ``command`` then means the image's entrypoint + cmd, and
    its env and workdir are the defaults). ``expect_output`` is a regex searched in
    the output. Kernels, harnesses and apt state are cached under ``cache_dir``.
    """
    if mode not in ("chroot", "system"):
        raise SmokeSetupError(f"smoke run of {rootfs_or_image}: unknown mode {mode!r}")
    if expect_output is not None:
        try:
            pattern: re.Pattern[str] | None = re.compile(expect_output, re.MULTILINE)
        except re.error as exc:
            raise SmokeSetupError(f"expected output regex {expect_output!r}: {exc}") from exc
    else:
        pattern = None
    source = Path(rootfs_or_image)
    if not source.is_dir():
        raise SmokeSetupError(f"smoke run of {source}: not a rootfs directory or OCI layout")
    if mode == "chroot" and os.geteuid() != 0:
        raise SmokeSetupError(f"chroot smoke run of {source}: needs root")
    with tempfile.TemporaryDirectory(prefix="sdfgen-smoke-") as tmp, ExitStack() as stack:
        root = Path(tmp) / "rootfs"
        if (source / "oci-layout").is_file():
            config = unpack_image(source, platform, root).config.get("config") or {}
            env = env if env is not None else config.get("Env") or [DEFAULT_PATH]
            workdir = workdir or config.get("WorkingDir") or "/"
            command = tuple(command) or tuple(config.get("Entrypoint") or ()) + tuple(
                config.get("Cmd") or ())
        elif mode == "chroot":
            root = stack.enter_context(scratch_root(source, Path(tmp) / "scratch"))
        else:
            root = source  # the initramfs writer only reads the tree
        argv = tuple(command)
        if not argv:
            raise SmokeSetupError(f"smoke run of {source}: no command given and none in "
                                  "the image config")
        env_list = list(env) if env is not None else [DEFAULT_PATH]
        if mode == "chroot":
            run = _run_chroot(root, platform, argv, env_list, workdir or "/", timeout)
        else:
            run = _run_system(root, platform, argv, env_list, workdir or "/", timeout,
                              cache_dir=cache_dir, kernel=kernel, accel=accel, tmp=Path(tmp))
        if run.exit_code == 127 and "cannot execute" in run.output:
            hint = explain_exec_failure(root, argv[0], env_list)
            if hint:
                run = _Run(run.exit_code, run.output + hint + "\n", run.log, run.problem,
                           run.seconds)
    passed, reason = _judge(run, expect_exit, pattern)
    return SmokeResult(platform, mode, argv, passed, run.exit_code, run.output, run.log,
                       reason, run.seconds)


def _run_chroot(root: Path, platform: Platform, argv: tuple[str, ...], env: list[str],
                workdir: str, timeout: float) -> _Run:
    emulated = ensure_binfmt(platform) is not None
    env_map = dict(item.partition("=")[::2] for item in env)

    def enter_root() -> None:  # runs in the child between fork and exec
        os.chroot(root)
        os.chdir(workdir)

    started = time.monotonic()
    try:
        # Popen builds the PATH candidates in the parent but execs them in the child,
        # after the chroot, so argv[0] is looked up inside the image.
        proc = subprocess.Popen(list(argv), env=env_map, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=enter_root, start_new_session=True)
    except OSError as exc:
        # Exec failed in the child: report it as a shell would, exit code 127/126.
        message = f"cannot execute {argv[0]}: {exc.strerror}\n"
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        return _Run(code, message, message, "", time.monotonic() - started)
    except subprocess.SubprocessError as exc:
        raise SmokeSetupError(f"chroot into {root} failed (workdir {workdir}): {exc}") from exc
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        text = out.decode(errors="replace")
        return _Run(None, text, text, f"no result within {timeout:g} s (killed)",
                    time.monotonic() - started)
    text = out.decode(errors="replace")
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    missing = _QEMU_NO_INTERP.search(text) if emulated and code == 255 else None
    if missing:
        # Report it as the kernel does natively: an exec failure, exit code 127.
        code = 127
        text += (f"cannot execute {argv[0]}: ELF interpreter {missing.group(1)}: "
                 f"{missing.group(2)}\n")
    return _Run(code, text, text, "", time.monotonic() - started)


def _run_system(root: Path, platform: Platform, argv: tuple[str, ...], env: list[str],
                workdir: str, timeout: float, *, cache_dir: Path, kernel: Path | None,
                accel: str, tmp: Path) -> _Run:
    kernel_image = debian_kernel(platform, cache_dir / "kernels", apt_root=cache_dir / "apt",
                                 override=kernel)
    harness = build_harness(platform, cache_dir / "harness")
    initramfs = write_initramfs(root, harness, tmp / "initramfs.cpio.gz", argv, env=env,
                                workdir=workdir)
    result = boot(qemu_argv(platform, kernel_image, initramfs, accel=accel), timeout=timeout)
    return _Run(result.exit_code, result.output, result.log, result.problem, result.seconds)


def _notable_line(output: str) -> str:
    """The line of ``output`` that best explains a failure (loader errors first)."""
    for pattern in _NOTABLE:
        match = pattern.search(output)
        if match:
            return match.group(0).strip()
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _judge(run: _Run, expect_exit: int, pattern: re.Pattern[str] | None) -> tuple[bool, str]:
    if run.exit_code is None:
        detail = _notable_line(run.output)
        return False, run.problem + (f": {detail}" if detail else "")
    if run.exit_code != expect_exit:
        detail = _notable_line(run.output)
        return False, (f"exit code {run.exit_code}, expected {expect_exit}"
                       + (f": {detail}" if detail else ""))
    if pattern is not None and not pattern.search(run.output):
        return False, f"output does not match {pattern.pattern!r}"
    return True, f"exit code {run.exit_code}" + (" and output matched" if pattern else "")
