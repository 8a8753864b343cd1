"""Download and unpack Debian packages for any architecture with a private apt state.

The builder borrows two things from Debian: kernels for the QEMU smoke runs and, in
tests, real shared libraries (libc6) for each architecture. apt runs with its own
state and cache directories per architecture under an output root, so the host's apt
state is neither read nor changed, and the machine's own source list
(/etc/apt/sources.list.d) says where the archive is: no mirror is named here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from builder.errors import BuildError

_DEB_NAME = re.compile(r"^(?P<name>[^_]+)_(?P<version>[^_]+)_(?P<arch>[^_]+)\.deb$")


def _apt_options(state_root: Path, debian_arch: str) -> list[str]:
    """apt -o options that point all state at ``state_root`` and select one architecture."""
    # apt reads relative Dir:: paths against "/", so make them absolute.
    state = state_root.resolve() / "state"
    cache = state_root.resolve() / "cache"
    return [
        "-o", f"Dir::State={state}",
        "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Cache={cache}",
        "-o", f"APT::Architecture={debian_arch}",
        "-o", f"APT::Architectures={debian_arch}",
        # The private directories belong to root; apt's _apt sandbox user could not
        # write them, and the downloads are still checked against the signed Release.
        "-o", "APT::Sandbox::User=root",
        "-o", "Acquire::Languages=none",
        "-q",
    ]


def _run_apt(argv: list[str], *, cwd: Path | None = None, what: str) -> str:
    """Run an apt command; raise BuildError naming ``what`` with apt's last error line."""
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: {argv[0]} not found; install apt") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{what}: {argv[0]} timed out after 900 s") from exc
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("E:")] or lines[-1:] or ["no output"]
        raise BuildError(f"{what}: {argv[0]} failed: {errors[0]}")
    return done.stdout


def apt_state(state_root: Path, debian_arch: str) -> list[str]:
    """Prepare a private apt state for ``debian_arch`` (apt-get update once); return -o options.

    The package lists are downloaded only when the state has none yet, so repeated
    calls are cheap; delete ``state_root`` to refresh them.
    """
    options = _apt_options(state_root, debian_arch)
    lists = state_root / "state" / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (state_root / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    status = state_root / "state" / "status"
    if not status.exists():
        status.touch()
    if not any(lists.glob("*_Packages*")):
        _run_apt(["apt-get", *options, "update"], what=f"apt state {state_root}")
    return options


def resolve_depends(state_root: Path, debian_arch: str, package: str) -> str:
    """Return the first package ``package`` depends on (e.g. a metapackage's real kernel)."""
    options = apt_state(state_root, debian_arch)
    out = _run_apt(["apt-cache", *options, "depends", package],
                   what=f"package {package} ({debian_arch})")
    for line in out.splitlines():
        match = re.match(r"\s*\|?Depends:\s*(\S+)", line)
        if match and not match.group(1).startswith("<"):
            return match.group(1)
    raise BuildError(f"package {package} ({debian_arch}): has no dependency to resolve")


def download_debs(packages: list[str], debian_arch: str, dest: Path,
                  *, state_root: Path) -> list[Path]:
    """Download ``packages`` for ``debian_arch`` into ``dest``; return the .deb paths.

    A package already present in ``dest`` (any version) is not downloaded again.
    """
    dest.mkdir(parents=True, exist_ok=True)
    have = {m.group("name"): dest / p.name for p in dest.glob("*.deb")
            if (m := _DEB_NAME.match(p.name)) and m.group("arch") in (debian_arch, "all")}
    missing = [p for p in packages if p not in have]
    if missing:
        options = apt_state(state_root, debian_arch)
        # Download into a temp dir first so an interrupted run leaves no partial .deb.
        partial = Path(tempfile.mkdtemp(dir=dest, prefix=".partial."))
        try:
            _run_apt(["apt-get", *options, "download", *missing], cwd=partial,
                     what=f"download of {' '.join(missing)} ({debian_arch})")
            for deb in sorted(partial.glob("*.deb")):
                m = _DEB_NAME.match(deb.name)
                if m:
                    os.replace(deb, dest / deb.name)
                    have[m.group("name")] = dest / deb.name
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    absent = [p for p in packages if p not in have]
    if absent:
        raise BuildError(f"download of {' '.join(absent)} ({debian_arch}): no .deb arrived")
    return [have[p] for p in packages]


def extract_deb(deb: Path, dest: Path, members: list[str] | None = None) -> None:
    """Unpack the data of ``deb`` into ``dest`` (only ``members``, tar patterns, if given)."""
    dest.mkdir(parents=True, exist_ok=True)
    if members is None:
        argv = ["dpkg-deb", "-x", str(deb), str(dest)]
        try:
            subprocess.run(argv, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise BuildError(f"{deb}: dpkg-deb -x failed: {_stderr(exc)}") from exc
        return
    # dpkg-deb --fsys-tarfile | tar -x MEMBERS, to avoid unpacking 300 MB of modules
    # when only the kernel image is wanted.
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as deb_proc:
        tar = subprocess.run(["tar", "-x", "-C", str(dest), "--wildcards", *members],
                             stdin=deb_proc.stdout, capture_output=True, text=True)
        assert deb_proc.stdout is not None
        deb_proc.stdout.close()
        deb_err = deb_proc.stderr.read().decode(errors="replace") if deb_proc.stderr else ""
    if deb_proc.returncode != 0 or tar.returncode != 0:
        detail = (deb_err or tar.stderr).strip().splitlines()
        raise BuildError(f"{deb}: cannot extract {' '.join(members)}: "
                         f"{detail[-1] if detail else 'tar failed'}")


def _stderr(exc: BaseException) -> str:
    """The last stderr line of a failed subprocess, or the exception text."""
    if isinstance(exc, subprocess.CalledProcessError) and exc.stderr:
        text = exc.stderr if isinstance(exc.stderr, str) else exc.stderr.decode()
        lines = text.strip().splitlines()
        if lines:
            return lines[-1]
    return str(exc)
