"""The initramfs of a system-mode smoke run: the rootfs plus a static /init harness.

``build_harness`` compiles ``smoke_init.c`` statically for a platform (gcc or the
aarch64-linux-gnu cross compiler) and caches it. ``write_initramfs`` writes a gzip'd
newc cpio of the rootfs with the harness at ``/.smoke/init`` and the command in
``/.smoke/argv``, written by this module (not by cpio(1)) so device nodes such as
/dev/console need no root and the archive depends only on the tree's content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import platform as host
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from builder.errors import BuildError, SmokeSetupError
from builder.platform import Platform
from builder.tree import walk_rootfs

HARNESS_SOURCE = Path(__file__).with_name("smoke_init.c")
HARNESS_PATH = "/.smoke/init"
_TRAILER = "TRAILER!!!"


def _compiler(platform: Platform) -> str:
    """The C compiler that targets ``platform`` from this host."""
    if platform.machine == host.machine():
        return "gcc"
    return f"{platform.machine}-linux-gnu-gcc"


def build_harness(platform: Platform, cache_dir: Path) -> Path:
    """Compile the static /init harness for ``platform`` into ``cache_dir``; return its path.

    The binary is rebuilt only when the C source changes (its sha256 is part of the
    file name). Raises SmokeSetupError when the compiler is missing or fails.
    """
    source = HARNESS_SOURCE.read_bytes()
    tag = hashlib.sha256(source).hexdigest()[:16]
    out = cache_dir / platform.machine / f"smoke-init-{tag}"
    if out.is_file():
        return out
    compiler = _compiler(platform)
    if shutil.which(compiler) is None:
        raise SmokeSetupError(f"harness for {platform}: compiler {compiler} not found "
                              f"(Debian: gcc-{platform.machine.replace('_', '-')}-linux-gnu)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # concurrent runs don't collide
    argv = [compiler, "-static", "-Os", "-s", "-Wall", "-o", str(staged), str(HARNESS_SOURCE)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise SmokeSetupError(f"harness for {platform}: {compiler} failed: {lines[0]}")
    os.replace(staged, out)
    return out


class _CpioWriter:
    """Write newc ("070701") cpio entries to a binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._ino = 0
        self._written = 0

    def _pad(self) -> None:
        pad = -self._written % 4
        if pad:
            self._write(b"\0" * pad)

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._written += len(data)

    def add(self, name: str, mode: int, *, uid: int = 0, gid: int = 0, data: bytes = b"",
            rdev: tuple[int, int] = (0, 0), source: Path | None = None, size: int = 0) -> None:
        """Add one entry; file content comes from ``data`` or is streamed from ``source``."""
        self._ino += 1
        encoded = name.encode() + b"\0"
        filesize = size if source is not None else len(data)
        fields = [self._ino, mode, uid, gid, 1, 0, filesize, 0, 0, rdev[0], rdev[1],
                  len(encoded), 0]
        self._write(b"070701" + b"".join(b"%08X" % f for f in fields))
        self._write(encoded)
        self._pad()
        if source is not None:
            copied = 0
            with open(source, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    self._write(chunk)
                    copied += len(chunk)
            if copied != size:
                raise BuildError(f"rootfs file {source}: changed size while being read")
        else:
            self._write(data)
        self._pad()

    def finish(self) -> None:
        """Write the trailer entry."""
        self.add(_TRAILER, 0)


def write_initramfs(rootfs: Path, harness: Path, out: Path, command: Iterable[str], *,
                    env: Iterable[str] = (), workdir: str = "/", level: int = 6) -> Path:
    """Write ``out``: gzip'd newc cpio of ``rootfs`` + harness + command files; return ``out``.

    ``command`` is the argv the harness runs (argv[0] is looked up in the command's
    PATH when it has no '/'); ``env`` are NAME=VALUE strings. Boot with
    ``rdinit=/.smoke/init``.
    """
    argv = list(command)
    if not argv:
        raise BuildError(f"initramfs {out}: empty command")
    for item in (*argv, *env, workdir):
        if "\0" in item:
            raise BuildError(f"initramfs {out}: NUL byte in command, env or workdir {item!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                              compresslevel=level) as gz:
            cpio = _CpioWriter(gz)  # type: ignore[arg-type]
            has_console = False
            for entry in walk_rootfs(rootfs):
                st = entry.st
                if entry.path == "dev/console":
                    has_console = True
                if stat.S_ISREG(st.st_mode):
                    cpio.add(entry.path, st.st_mode, uid=st.st_uid, gid=st.st_gid,
                             source=entry.host_path, size=st.st_size)
                elif stat.S_ISLNK(st.st_mode):
                    cpio.add(entry.path, st.st_mode, uid=st.st_uid, gid=st.st_gid,
                             data=os.fsencode(entry.link_target()))
                elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                    cpio.add(entry.path, st.st_mode, uid=st.st_uid, gid=st.st_gid,
                             rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)))
                elif stat.S_ISDIR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                    cpio.add(entry.path, st.st_mode, uid=st.st_uid, gid=st.st_gid)
                # Sockets are skipped: they cannot be carried in an image either.
            if not has_console:
                # The kernel opens /dev/console for init before any devtmpfs exists.
                cpio.add("dev", stat.S_IFDIR | 0o755)
                cpio.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
            cpio.add(".smoke", stat.S_IFDIR | 0o755)
            cpio.add(HARNESS_PATH.lstrip("/"), stat.S_IFREG | 0o755, source=harness,
                     size=harness.stat().st_size)
            cpio.add(".smoke/argv", stat.S_IFREG | 0o644,
                     data=b"".join(a.encode() + b"\0" for a in argv))
            cpio.add(".smoke/env", stat.S_IFREG | 0o644,
                     data=b"".join(e.encode() + b"\0" for e in env))
            cpio.add(".smoke/workdir", stat.S_IFREG | 0o644, data=workdir.encode())
            cpio.finish()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
