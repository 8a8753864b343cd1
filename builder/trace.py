"""Which paths a program tried in a built image, and where the missing ones are shipped.

``trace_image`` unpacks one platform's image (or copies a rootfs), runs a command in
it under the tracer of ``builder.strace`` and turns the calls into image paths: each
absolute, or joined to the directory the call was relative to (strace's ``-y`` names
it; else the process's cwd as far as chdir and fork tell). The paths are then judged
against the untouched image:

- ``present``: in the image (a symlink counts if it resolves inside the image);
- ``shipped``: missing, but a package of the repositories has the file (after the
  image's symlinks, or literally); with its package, file and the slice of its SDF
  that selects the file on that arch;
- ``missing``: missing everywhere: the loader's glibc-hwcaps and tls probes, PATH
  searches, optional configuration; summed up per nearest directory of the image;
- ``runtime``: under /proc, /sys or /dev, which a container runtime mounts and the
  chroot does not;
- ``created``: not in the image, yet a call on it succeeded: the program made it.

An exec'd file's ELF interpreter (PT_INTERP) and script interpreter (``#!``) count as
tried too: the kernel opens them without a call the tracer sees.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.elfinterp import elf_interpreter, resolve_in_root, walk_in_root
from builder.errors import BuildError, SmokeSetupError
from builder.oci_read import unpack_image
from builder.platform import Platform, parse_platform
from builder.scratch import scratch_root
from builder.smoke import DEFAULT_PATH
from builder.strace import PROCESS_CALLS, Syscall, fd_base, path_of, run_traced

if TYPE_CHECKING:
    from sdfgen.repo.index import Repository
    from sdfgen.rpm.session import RepoOptions
    from sdfgen.sdf.model import Sdf

KINDS = ("shipped", "present", "missing", "runtime", "created")
RUNTIME_DIRS = ("/proc", "/sys", "/dev")
# Debian's qemu-user looks every guest path up under its -L prefix first (built in as
# /etc/qemu-binfmt/ARCH); those probes are QEMU's, not the program's.
QEMU_PREFIX = "/etc/qemu-binfmt/"
_MISSING_ERRNOS = ("ENOENT", "ENOTDIR")
_CHROOTED = "chroot by the program (later paths may be misread)"
_RELATIVE = "relative path in an unknown directory"
_QEMU_PROBES = f"qemu-user's own {QEMU_PREFIX} lookups"


@dataclass(frozen=True)
class Access:
    """One call on one path of the image (``op``: open, stat, access, readlink, exec,
    chdir, interp)."""

    path: str
    op: str
    ok: bool
    errno: str | None
    pid: int


@dataclass(frozen=True)
class Shipper:
    """A package that ships a file the image lacks, and the slice that would bring it.

    ``slice`` is ``PACKAGE_SLICE`` or None when no SDF (or no slice of it) selects the
    file; ``sdf`` the SDF's file name; ``in_image`` whether the image holds that slice.
    """

    package: str
    nevra: str
    file: str
    slice: str | None
    sdf: str | None
    in_image: bool


@dataclass(frozen=True)
class TracedPath:
    """Every attempt on one path, judged: ``kind`` is one of KINDS.

    ``resolved`` is where the image's symlinks lead when that differs from ``path``;
    ``near`` the nearest directory of the image above a missing path.
    """

    path: str
    kind: str
    ops: tuple[str, ...]
    attempts: int
    errno: str | None
    resolved: str | None = None
    near: str | None = None
    shipped_by: tuple[Shipper, ...] = ()


@dataclass(frozen=True)
class PlatformTrace:
    """The trace of one command on one platform: the run and every path it tried."""

    platform: Platform
    command: tuple[str, ...]
    exit_code: int | None
    output: str
    seconds: float
    problem: str
    paths: tuple[TracedPath, ...]
    ignored: dict[str, int] = field(default_factory=dict)

    def of_kind(self, kind: str) -> tuple[TracedPath, ...]:
        """The paths of one kind, in path order."""
        return tuple(p for p in self.paths if p.kind == kind)


# (path as tried, path after the image's symlinks) -> the packages that ship it.
ShipperLookup = Callable[[str, str], tuple[Shipper, ...]]


def trace_image(source: Path, platform: Platform, command: Sequence[str] = (), *,
                env: Sequence[str] | None = None, workdir: str | None = None,
                timeout: float = 300.0, shippers: ShipperLookup | None = None
                ) -> PlatformTrace:
    """Run ``command`` (default: the image's entrypoint and cmd) in ``platform``'s image
    under the tracer and judge every path it tried; ``shippers`` answers for missing
    paths (without it they are all ``missing``).

    ``source`` is an OCI layout or a rootfs directory; the command runs in a copy, so
    what it writes never hides what the image lacks. Raises SmokeSetupError or
    BuildError when the run cannot start; a failing command is a result.
    """
    source = Path(source)
    if not source.is_dir():
        raise SmokeSetupError(f"trace of {source}: not a rootfs directory or OCI layout")
    with tempfile.TemporaryDirectory(prefix="sdfgen-trace-") as tmp:
        image = Path(tmp) / "image"
        if (source / "oci-layout").is_file():
            config = unpack_image(source, platform, image).config.get("config") or {}
            env = env if env is not None else config.get("Env") or [DEFAULT_PATH]
            workdir = workdir or config.get("WorkingDir") or "/"
            command = tuple(command) or tuple(config.get("Entrypoint") or ()) + tuple(
                config.get("Cmd") or ())
        else:
            image = source  # only read; the run gets a copy
        argv = tuple(command)
        if not argv:
            raise SmokeSetupError(f"trace of {source}: no command given and none in the "
                                  "image config")
        with scratch_root(image, Path(tmp) / "run") as run_root:
            run = run_traced(run_root, platform, argv, list(env or [DEFAULT_PATH]),
                             workdir or "/", timeout)
        accesses, ignored = image_accesses(run.calls, run_root.resolve(), emulated=run.emulated)
        accesses += interpreter_accesses(image, accesses)
        paths = judge(image, accesses, shippers)
    return PlatformTrace(platform, argv, run.exit_code, run.output, run.seconds,
                         run.problem, paths, ignored)


def _image_path(host_root: Path, host_path: str | None) -> str | None:
    """The image path of a path strace printed on the host, None if outside the root."""
    if host_path is None:
        return None
    root = str(host_root)
    if host_path == root:
        return "/"
    if host_path.startswith(root + "/"):
        return host_path[len(root):]
    return None


def _join(directory: str, path: str) -> str:
    """``path`` made absolute against ``directory`` and normalised (``..`` lexically)."""
    return "/" + posixpath.normpath(posixpath.join(directory, path)).lstrip("/")


def image_accesses(calls: Iterable[Syscall], host_root: Path, *, emulated: bool
                   ) -> tuple[list[Access], dict[str, int]]:
    """The calls' paths as image paths, and counts of what was left out and why."""
    calls = list(calls)
    parent = {call.result: call.pid for call in calls
              if call.name in PROCESS_CALLS and call.result and call.result > 0}
    cwd: dict[int, str | None] = {}
    ignored: dict[str, int] = {}
    accesses: list[Access] = []
    for call in calls:
        if call.pid not in cwd:
            # A child starts where its parent is (strace may print the child's first
            # calls before the parent's clone returns; hence the map made beforehand).
            cwd[call.pid] = cwd.get(parent.get(call.pid, -1), "/" if not cwd else None)
        here = cwd[call.pid]
        if call.name == "fchdir" and call.ok:
            cwd[call.pid] = _image_path(host_root, fd_base(call.args[0]) if call.args
                                        else None)
            continue
        if call.name == "chroot":
            ignored[_CHROOTED] = ignored.get(_CHROOTED, 0) + 1
            continue
        arg = path_of(call)
        if arg is None:
            continue
        if arg.base is not None:
            directory = _image_path(host_root, arg.base)
            if arg.dirfd == "AT_FDCWD":
                cwd[call.pid] = here = directory
        else:
            directory = here if arg.dirfd in (None, "AT_FDCWD") else None
        if not arg.path.startswith("/") and directory is None:
            ignored[_RELATIVE] = ignored.get(_RELATIVE, 0) + 1
            continue
        path = _join(directory or "/", arg.path)
        if emulated and path.startswith(QEMU_PREFIX):
            ignored[_QEMU_PROBES] = ignored.get(_QEMU_PROBES, 0) + 1
            continue
        if call.name == "chdir" and call.ok:
            cwd[call.pid] = path
        accesses.append(Access(path, arg.op, call.ok, call.errno, call.pid))
    return accesses, ignored


def interpreter_accesses(root: Path, accesses: Iterable[Access]) -> list[Access]:
    """The interpreters of every file exec'd in ``root``: a script's ``#!`` program and
    an ELF file's PT_INTERP (and the PT_INTERP of a script's ELF interpreter)."""
    found: list[Access] = []
    seen: set[str] = set()
    for access in accesses:
        if access.op != "exec" or access.path in seen:
            continue
        seen.add(access.path)
        pending = [access.path]
        for _depth in range(3):  # script -> interpreter -> its ELF loader
            if not pending:
                break
            program = resolve_in_root(root, pending.pop())
            if program is None or not program.is_file():
                break
            interpreter = _script_interpreter(program) or elf_interpreter(program)
            if not interpreter or not interpreter.startswith("/"):
                break
            exists = resolve_in_root(root, interpreter) is not None
            found.append(Access(_join("/", interpreter), "interp", exists,
                                None if exists else "ENOENT", access.pid))
            pending.append(interpreter)
    return found


def _script_interpreter(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n")[0].split()
    return words[0].decode(errors="replace") if words else None


def _resolve_partial(root: Path, path: str) -> tuple[str, str]:
    """``path`` with the image's symlinks followed as far as it exists, then lexically;
    and the deepest existing directory on the way (both image paths)."""
    resolved, rest = walk_in_root(root, path)
    near = resolved if root.joinpath(*resolved).is_dir() else resolved[:-1]
    return "/" + "/".join([*resolved, *rest]), "/" + "/".join(near)


def judge(root: Path, accesses: Iterable[Access],
          shippers: ShipperLookup | None) -> tuple[TracedPath, ...]:
    """Every path of ``accesses`` judged against the untouched image at ``root``."""
    by_path: dict[str, list[Access]] = {}
    for access in accesses:
        by_path.setdefault(access.path, []).append(access)
    judged = []
    for path in sorted(by_path):
        tries = by_path[path]
        ops = tuple(dict.fromkeys(a.op for a in tries))
        failures = [a.errno for a in tries if not a.ok]
        errno = failures[-1] if failures else None
        exists = resolve_in_root(root, path) is not None
        resolved, near = _resolve_partial(root, path)
        shown = resolved if resolved != path else None
        if any(path == d or path.startswith(d + "/") for d in RUNTIME_DIRS):
            judged.append(TracedPath(path, "runtime", ops, len(tries), errno, shown))
        elif exists or (failures and all(e not in _MISSING_ERRNOS for e in failures)):
            # EACCES, ELOOP, EINVAL (readlink of a file): the path is there.
            judged.append(TracedPath(path, "present", ops, len(tries), errno, shown))
        elif any(a.ok for a in tries):
            # Not in the image, yet found: the program made it (open with O_CREAT, or a
            # mkdir or rename the tracer does not follow).
            judged.append(TracedPath(path, "created", ops, len(tries), errno, shown))
        else:
            found = shippers(path, resolved) if shippers is not None else ()
            judged.append(TracedPath(path, "shipped" if found else "missing", ops,
                                     len(tries), errno, shown, near, found))
    return tuple(judged)


def repository_shippers(repository: Repository, sdfs: Mapping[str, Sdf] | None,
                        image_slices: Collection[str] = ()) -> ShipperLookup:
    """A ShipperLookup over ``repository`` (one arch): the newest packages that own the
    path after the image's symlinks, else the path as tried; each with the slice of its
    SDF in ``sdfs`` that selects the file on that arch."""
    from sdfgen.sdf.model import slice_of_path

    arch = repository.arch

    def lookup(path: str, resolved: str) -> tuple[Shipper, ...]:
        for candidate in dict.fromkeys((resolved, path)):
            owners = repository.whatprovides(candidate)
            if not owners:
                continue
            found = []
            for meta in owners:
                sdf = sdfs.get(meta.name) if sdfs is not None else None
                name = slice_of_path(sdf, candidate, arch) if sdf is not None else None
                ref = f"{meta.name}_{name}" if name else None
                found.append(Shipper(meta.name, meta.nevra, candidate, ref,
                                     sdf.path.name if sdf is not None and sdf.path else None,
                                     ref is not None and ref in image_slices))
            return tuple(found)
        return ()

    return lookup


def trace_build(image: Path, command: Sequence[str] = (), *,
                platforms: Sequence[Platform] = (), repo: RepoOptions | None = None,
                sdf_dir: Path | None = None, timeout: float = 300.0) -> list[PlatformTrace]:
    """Trace ``command`` in ``image`` (an output of ``builder build``, or a rootfs with
    ``platforms``) on each platform; missing paths are looked up in ``repo``.

    Defaults come from the build: its platforms, the release of its Distrofile (when
    ``repo.release`` is empty) and that Distrofile's ``../sdf`` for ``sdf_dir``; the
    slices it recorded tell whether a slice that ships a missing file is in the image.
    """
    from sdfgen.repo.sources import DEFAULT_RELEASE
    from sdfgen.rpm.session import open_session
    from sdfgen.sdf.model import load_sdf_dir

    image = Path(image)
    if not image.is_dir():
        raise SmokeSetupError(f"trace of {image}: not a rootfs directory or OCI layout")
    record = _build_record(image)
    chosen = tuple(platforms) or tuple(parse_platform(entry.get("platform", ""))
                                       for entry in record.get("platforms") or ())
    if not chosen:
        raise SmokeSetupError(f"{image}: no platforms recorded; pass --platform")
    distrofile = Path(record["distrofile"]) if record.get("distrofile") else None
    if sdf_dir is None and distrofile is not None and (distrofile.parent.parent /
                                                       "sdf").is_dir():
        sdf_dir = distrofile.parent.parent / "sdf"
    sdfs = load_sdf_dir(sdf_dir) if sdf_dir is not None else None
    slices = frozenset(record.get("slices") or ())
    if repo is None:
        return [trace_image(image, p, command, timeout=timeout) for p in chosen]
    release = repo.release or record.get("release") or _distrofile_release(distrofile) \
        or DEFAULT_RELEASE
    options = dataclasses.replace(repo, release=release,
                                  arches=tuple(dict.fromkeys(p.machine for p in chosen)))
    with open_session(options) as session:
        return [trace_image(image, p, command, timeout=timeout, shippers=repository_shippers(
            session.repository(p.machine), sdfs, slices)) for p in chosen]


def _build_record(image: Path) -> dict[str, Any]:
    path = image / "build.json"
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: unreadable build record: {exc}") from exc


def _distrofile_release(distrofile: Path | None) -> str:
    """The release the image's Distrofile names, "" when it is gone or names none."""
    if distrofile is None or not distrofile.is_file():
        return ""
    from builder.distrofile import load_distrofile

    return load_distrofile(distrofile).release
