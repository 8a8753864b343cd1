"""Boot a kernel and a smoke initramfs under qemu-system and read the harness's result.

The guest's serial console is QEMU's stdout. The harness (``smoke_init.c``) prints
``@@SMOKE-BEGIN@@`` before the command and ``@@SMOKE-EXIT=<code>@@`` after it, then
powers off; ``-no-reboot`` and ``panic=-1`` make QEMU exit on a kernel panic too,
so a run ends by itself unless the guest hangs, which the timeout covers.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from builder.errors import SmokeSetupError
from builder.initramfs import HARNESS_PATH
from builder.platform import Platform

BEGIN_MARKER = "@@SMOKE-BEGIN@@"
_EXIT_MARKER = re.compile(r"@@SMOKE-EXIT=(-?\d+)@@")
_PANIC = re.compile(r"Kernel panic - not syncing:.*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")

# machine -> (QEMU binary, Debian package, machine/cpu options, console device)
_QEMU: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "x86_64": ("qemu-system-x86_64", "qemu-system-x86", ("-M", "q35", "-cpu", "max"), "ttyS0"),
    "aarch64": ("qemu-system-aarch64", "qemu-system-arm",
                ("-M", "virt", "-cpu", "cortex-a57"), "ttyAMA0"),
}


@dataclass(frozen=True)
class BootResult:
    """What one boot produced: the harness's exit code (None if it never reported)."""

    exit_code: int | None
    output: str
    log: str
    seconds: float
    problem: str


def qemu_argv(platform: Platform, kernel: Path, initramfs: Path, *, accel: str = "tcg",
              memory_mb: int = 512) -> list[str]:
    """The qemu-system command line that boots ``kernel`` with ``initramfs`` as the rootfs."""
    binary, package, machine, console = _QEMU[platform.machine]
    if shutil.which(binary) is None:
        raise SmokeSetupError(f"system smoke run for {platform}: {binary} not found "
                              f"(Debian: {package})")
    # quiet + loglevel=3 keep kernel messages from interleaving with the command's
    # output; panic=-1 turns a panic (e.g. a harness that cannot start) into a reboot,
    # which -no-reboot turns into QEMU exiting.
    append = f"console={console} rdinit={HARNESS_PATH} panic=-1 quiet loglevel=3"
    return [binary, *machine, "-accel", accel, "-m", str(memory_mb), "-smp", "1",
            "-nodefaults", "-nographic", "-serial", "stdio", "-no-reboot",
            "-kernel", str(kernel), "-initrd", str(initramfs), "-append", append]


def boot(argv: list[str], *, timeout: float) -> BootResult:
    """Run QEMU with ``argv`` for at most ``timeout`` seconds; parse the console log."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    reported: float | None = None
    tail = b""
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                timed_out = True
                break
            if not selector.select(min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
            # The marker may be split across reads; look at the last read's tail too.
            if reported is None and b"@@SMOKE-EXIT=" in tail + chunk:
                reported = time.monotonic() - started
            tail = (tail + chunk)[-16:]
    if timed_out:
        os.killpg(proc.pid, signal.SIGKILL)
    qemu_status = proc.wait()
    proc.stdout.close()
    seconds = time.monotonic() - started
    log = _ANSI.sub("", b"".join(chunks).decode(errors="replace").replace("\r\n", "\n"))
    return _parse(log, reported if reported is not None else seconds, timed_out, timeout,
                  qemu_status)


def _parse(log: str, seconds: float, timed_out: bool, timeout: float,
           qemu_status: int) -> BootResult:
    exit_match = _EXIT_MARKER.search(log)
    begin = log.find(BEGIN_MARKER)
    if exit_match is None:
        panic = _PANIC.search(log)
        if timed_out:
            problem = f"no result from the guest within {timeout:g} s"
        elif panic:
            problem = panic.group(0).strip()
        else:
            problem = f"QEMU exited with status {qemu_status} before the command finished"
        output = log[begin + len(BEGIN_MARKER):].lstrip("\n") if begin >= 0 else ""
        return BootResult(None, output, log, seconds, problem)
    start = begin + len(BEGIN_MARKER) if 0 <= begin < exit_match.start() else exit_match.start()
    output = log[start:exit_match.start()]
    # The harness prints a newline before each marker so they start a line of their own.
    output = output.removeprefix("\n").rstrip("\n")
    return BootResult(int(exit_match.group(1)), output + ("\n" if output else ""), log,
                      seconds, "")
