"""The tracer of ``builder trace``: run a command chrooted in a rootfs under the host's
``strace -f -y`` and parse the log into the calls it made.

One tracer for both arches. Natively (x86_64 here) strace sees the program; for
aarch64 it sees qemu-aarch64, started by binfmt_misc (F flag: the emulator is the
host's, every library the image's), whose host calls carry the guest's paths
unchanged. ``-f`` follows every fork and exec, also of native children, which
``qemu-x86_64 -strace`` would lose (qemu-user execs a child directly); the log goes
to a file, not into the program's stderr as QEMU's does.

:func:`parse_lines` yields one :class:`Syscall` per finished call (joining strace's
``<unfinished ...>`` and ``<... resumed>`` halves per process); :func:`path_of` says
which path a call names and relative to what. Lines of QEMU user mode's ``-strace``
(``QEMU_STRACE=1``) parse too: they differ in spacing, in errors (``-1 errno=2
(...)`` for ``-1 ENOENT (...)``) and carry no ``-y`` directories.
"""

from __future__ import annotations

import errno as errno_names
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.binfmt import ensure_binfmt
from builder.errors import SmokeSetupError
from builder.platform import Platform

# syscall -> (index of the path argument, whether the argument before it is a dirfd,
# the operation it stands for). Only lookups: what a program opens, stats, probes,
# reads as a link or executes; writes (mkdir, unlink, rename) say nothing about what
# an image must ship.
PATH_CALLS: dict[str, tuple[int, bool, str]] = {
    "open": (0, False, "open"), "creat": (0, False, "open"),
    "openat": (1, True, "open"), "openat2": (1, True, "open"),
    "stat": (0, False, "stat"), "lstat": (0, False, "stat"), "stat64": (0, False, "stat"),
    "lstat64": (0, False, "stat"), "newfstatat": (1, True, "stat"),
    "fstatat64": (1, True, "stat"), "statx": (1, True, "stat"),
    "access": (0, False, "access"), "faccessat": (1, True, "access"),
    "faccessat2": (1, True, "access"),
    "readlink": (0, False, "readlink"), "readlinkat": (1, True, "readlink"),
    "execve": (0, False, "exec"), "execveat": (1, True, "exec"),
    "chdir": (0, False, "chdir"),
}
# Calls that create a process (the result is the child's id) or move its directory.
PROCESS_CALLS = ("clone", "clone3", "fork", "vfork")
CWD_CALLS = ("chdir", "fchdir", "chroot")
# What strace is asked to trace: '?' keeps it quiet about names the host lacks
# (aarch64 has no open, stat or fork).
TRACED = ",".join(f"?{name}" for name in dict.fromkeys((*PATH_CALLS, *PROCESS_CALLS,
                                                        *CWD_CALLS)))

_LINE = re.compile(r"^\s*(\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)$", re.S)
_UNFINISHED = re.compile(r"\s*<unfinished \.\.\.>\s*$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>\s?(.*)$", re.S)
# The end of a finished call: ") = RESULT", an fd's -y path, an error name or QEMU's
# "errno=N", a description in parentheses, strace's -T time. The arguments are matched
# greedily before it, so a ") = " inside a path string does not end them.
_END = re.compile(r"^(?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|0x[0-9a-fA-F]+|\?)"
                  r"(?:<(?P<fdpath>[^>]*)>)?"
                  r"(?:\s+(?:(?P<err>E[A-Z0-9]+)|errno=(?P<errnum>\d+)))?"
                  r"(?:\s+\(.*\))?(?:\s+<[\d.]+>)?\s*$", re.S)
_FD = re.compile(r"^(AT_FDCWD|-?\d+)(?:<(.*)>)?$", re.S)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "v": "\v", "f": "\f", "r": "\r", "a": "\a",
                   "b": "\b", "e": "\x1b"}


@dataclass(frozen=True)
class Syscall:
    """One finished call: the raw argument texts, the result and, on failure, the errno.

    ``result`` is None when the tracer printed ``?`` (an execve whose process ended);
    ``fd_path`` is the ``-y`` path of a returned file descriptor (an open's target).
    """

    pid: int
    name: str
    args: tuple[str, ...]
    result: int | None
    errno: str | None
    fd_path: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (an unknown result counts as success)."""
        return self.result is None or self.result >= 0


@dataclass(frozen=True)
class PathArg:
    """The path a call names: ``dirfd`` is ``AT_FDCWD`` or a number, ``base`` the
    directory the tracer printed for it (``-y``), None when it printed none."""

    path: str
    op: str
    dirfd: str | None
    base: str | None


def decode_string(text: str) -> str:
    """The value of a C string literal's body as strace prints it (octal, ``\\xNN``,
    ``\\n`` ...); bytes that are not UTF-8 are kept as surrogate escapes."""
    if "\\" not in text:
        return text
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos:match.start()].encode("utf-8", "surrogateescape")
        code = match.group(1)
        if code[0] == "x" and len(code) == 3:
            out.append(int(code[1:], 16))
        elif code[0] in "01234567":
            out.append(int(code, 8) & 0xFF)
        else:
            out += _SIMPLE_ESCAPES.get(code, code).encode("utf-8", "surrogateescape")
        pos = match.end()
    out += text[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


def split_args(text: str) -> tuple[str, ...]:
    """Split an argument list at top-level commas, keeping strings, ``[...]``, ``{...}``,
    ``(...)`` and ``-y`` decorations (``<...>``, in which strace escapes ``<>``) whole."""
    args: list[str] = []
    depth = 0
    start = 0
    pos = 0
    quoted = False
    while pos < len(text):
        char = text[pos]
        if quoted:
            if char == "\\":
                pos += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([{<":
            depth += 1
        elif char in ")]}>" and depth:
            depth -= 1
        elif char == "," and depth == 0:
            args.append(text[start:pos].strip())
            start = pos + 1
        pos += 1
    tail = text[start:].strip()
    if tail or args:
        args.append(tail)
    return tuple(args)


def _string_arg(arg: str) -> str | None:
    """The value of a string argument (``"..."``, maybe ``...``-truncated), else None."""
    if len(arg) >= 2 and arg[0] == '"':
        end = arg.rfind('"')
        if end > 0:
            return decode_string(arg[1:end])
    return None


def path_of(call: Syscall) -> PathArg | None:
    """The path ``call`` names, or None for calls without one (an fd-only ``fstat``)."""
    spec = PATH_CALLS.get(call.name)
    if spec is None or len(call.args) <= spec[0]:
        return None
    path = _string_arg(call.args[spec[0]])
    if not path:
        return None  # "" with AT_EMPTY_PATH: a call on the fd itself
    dirfd = base = None
    if spec[1]:
        fd = _FD.match(call.args[spec[0] - 1])
        if fd:
            dirfd = "AT_FDCWD" if fd.group(1) in ("AT_FDCWD", "-100") else fd.group(1)
            base = decode_string(fd.group(2)) if fd.group(2) is not None else None
    return PathArg(path, spec[2], dirfd, base)


def fd_base(arg: str) -> str | None:
    """The ``-y`` path of an fd argument (``3</usr/lib>``), or None."""
    fd = _FD.match(arg.strip())
    return decode_string(fd.group(2)) if fd and fd.group(2) is not None else None


def _finish(pid: int, name: str, rest: str) -> Syscall | None:
    end = _END.match(rest)
    if end is None:
        return None
    ret = end.group("ret")
    result = None if ret == "?" else int(ret, 0)
    err = end.group("err")
    if err is None and end.group("errnum") is not None:
        err = errno_names.errorcode.get(int(end.group("errnum")), f"errno={end.group('errnum')}")
    fd_path = end.group("fdpath")
    return Syscall(pid, name, split_args(end.group("args")), result, err,
                   decode_string(fd_path) if fd_path is not None else None)


def parse_lines(lines: Iterable[str]) -> Iterator[Syscall]:
    """The finished calls of a ``PID call(...) = result`` trace, in the order they end.

    Signals, exits and lines that are not calls (a program's own output mixed into
    QEMU's stderr) are skipped; a call whose process died before it returned is lost.
    """
    pending: dict[int, tuple[str, str]] = {}
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        pid, rest = int(match.group(1)), match.group(2)
        resumed = _RESUMED.match(rest)
        if resumed:
            started = pending.pop(pid, None)
            if started is None or started[0] != resumed.group(1):
                continue
            name, rest = started[0], started[1] + resumed.group(2)
        else:
            call = _CALL.match(rest)
            if call is None:
                continue  # "+++ exited", "--- SIGCHLD", other text
            name, rest = call.group(1), call.group(2)
            unfinished = _UNFINISHED.search(rest)
            if unfinished:
                pending[pid] = (name, rest[:unfinished.start()])
                continue
        finished = _finish(pid, name, rest)
        if finished is not None:
            yield finished


# Runs under strace, on the host's Python: chroot, chdir, then exec the command with
# the image's environment, looking it up in the image's PATH. Its own calls before
# the chroot are dropped from the trace; exec failures are reported as a shell would.
_HELPER = """
import json, os, sys, warnings  # os.execvpe imports warnings: not after the chroot
root, workdir, env = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
os.chroot(root)
os.chdir(workdir)
try:
    os.execvpe(sys.argv[4], sys.argv[4:], env)
except OSError as exc:
    sys.stderr.write(f"cannot execute {sys.argv[4]}: {exc.strerror}\\n")
    sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)
"""


@dataclass(frozen=True)
class TracedRun:
    """A traced command: its exit code (None if it was killed at the timeout), output
    (stdout and stderr), the calls made after the chroot and whether it was emulated."""

    exit_code: int | None
    output: str
    calls: tuple[Syscall, ...]
    emulated: bool
    seconds: float
    problem: str = ""


def strace_argv(log: Path) -> list[str]:
    """The strace command line (before ``--``) that writes the trace to ``log``."""
    binary = shutil.which("strace")
    if binary is None:
        raise SmokeSetupError("builder trace needs strace (Debian: strace)")
    # -y prints the directory of every dirfd (AT_FDCWD too: the cwd) and the file an
    # open returned; --seccomp-bpf stops the tracee only at the traced calls, which
    # keeps QEMU's many mmap and futex calls at full speed.
    return [binary, "-f", "-qq", "-y", "--seccomp-bpf", "-e", f"trace={TRACED}",
            "-e", "signal=none", "-o", str(log)]


def run_traced(root: Path, platform: Platform, argv: Sequence[str], env: Sequence[str],
               workdir: str, timeout: float) -> TracedRun:
    """Run ``argv`` chrooted in ``root`` (which it may change) under strace.

    Raises SmokeSetupError when it cannot start (not root, no strace, no binfmt
    handler for ``platform``, a tracer that never reached the chroot).
    """
    if os.geteuid() != 0:
        raise SmokeSetupError(f"trace in {root}: the chroot needs root")
    emulated = ensure_binfmt(platform) is not None
    env_map = dict(item.partition("=")[::2] for item in env)
    with tempfile.TemporaryDirectory(prefix="sdfgen-trace-") as tmp:
        log = Path(tmp) / "strace.log"
        command = [*strace_argv(log), "--", sys.executable, "-I", "-S", "-c", _HELPER,
                   str(root), workdir, json.dumps(env_map), *argv]
        started = time.monotonic()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        problem = ""
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            problem = f"no result within {timeout:g} s (killed)"
        seconds = time.monotonic() - started
        with open(log, encoding="utf-8", errors="surrogateescape") as lines:
            calls = _after_chroot(parse_lines(lines))
    text = out.decode(errors="replace")
    if calls is None:
        detail = (text.strip().splitlines() or ["no output"])[-1]
        raise SmokeSetupError(f"trace in {root}: the tracer did not reach the chroot: "
                              f"{detail}")
    code = None if problem else (proc.returncode if proc.returncode >= 0
                                 else 128 - proc.returncode)
    return TracedRun(code, text, calls, emulated, seconds, problem)


def _after_chroot(calls: Iterable[Syscall]) -> tuple[Syscall, ...] | None:
    """The calls after the helper's chroot (None when there was none): what the host's
    Python did to start is not the image's business."""
    kept: list[Syscall] = []
    rooted = False
    for call in calls:
        if rooted:
            kept.append(call)
        elif call.name == "chroot" and call.ok:
            rooted = True
    return tuple(kept) if rooted else None
