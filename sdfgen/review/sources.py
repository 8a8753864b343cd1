"""Where the two SDF sets of a review come from: directories, or trees of git revisions.

An argument that is an existing path is a directory of SDFs. Otherwise ``REV:PATH`` is
git's own name of a tree (``HEAD~1:samples/sdf``, ``main:slice-releases``; ``PATH`` from
the top of the repository, or from the current directory when it starts with ``./``):
the tree is read with ``git archive`` into a scratch directory, never touching the work
tree or the index. The Distrofiles of a set default to ``../distrofiles`` beside it, in
the same revision.
"""

from __future__ import annotations

import io
import posixpath
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sdfgen.errors import ConfigError

GIT_TIMEOUT = 120.0


@dataclass(frozen=True)
class SdfSet:
    """One side of a review: how the user named it, its SDFs and Distrofiles here."""

    label: str
    directory: Path
    distrofiles: tuple[Path, ...]


def _git(args: list[str], cwd: Path, what: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ConfigError(f"{what}: not a directory, and git is not installed to read it "
                          "as REV:PATH") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what}: git gave no answer in {GIT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(f"{what}: {message[-1]}" if message else what)
    return done.stdout


def _tree_path(rev: str, path: str, cwd: Path, what: str) -> str:
    """``path`` from the top of the repository (git's ``REV:./x`` means from cwd)."""
    if path.startswith(("./", "../")) or path in (".", ".."):
        prefix = _git(["rev-parse", "--show-prefix"], cwd, what).decode().strip()
        path = posixpath.normpath(posixpath.join(prefix, path))
    return "" if path in (".", "") else posixpath.normpath(path)


def _is_tree(rev: str, path: str, cwd: Path) -> bool:
    done = subprocess.run(["git", "cat-file", "-t", f"{rev}:{path}"], cwd=cwd,
                          capture_output=True, timeout=GIT_TIMEOUT, check=False)
    return done.returncode == 0 and done.stdout.strip() == b"tree"


def _extract(rev: str, path: str, cwd: Path, dest: Path, what: str) -> None:
    data = _git(["archive", "--format=tar", f"{rev}:{path}"], cwd, what)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        # The data filter refuses absolute names, '..' and links out of dest.
        archive.extractall(dest, filter="data")


def resolve_set(arg: str, role: str, scratch: Path,
                distrofile_dirs: Sequence[Path] = (), cwd: Path | None = None) -> SdfSet:
    """The SDF set ``arg`` names; ``role`` (OLD or NEW) names it in messages and in the
    ``scratch`` directory a git tree is extracted into. ``distrofile_dirs`` replaces the
    default ``../distrofiles``. Raises ConfigError with one line naming ``arg``."""
    cwd = cwd or Path.cwd()
    local = Path(arg)
    what = f"{role} {arg!r}"
    if local.exists():
        if not local.is_dir():
            raise ConfigError(f"{what}: not a directory of SDFs")
        default = local.resolve().parent / "distrofiles"
        found = tuple(distrofile_dirs) or ((default,) if default.is_dir() else ())
        return SdfSet(arg, local, found)
    rev, sep, path = arg.partition(":")
    if not sep or not rev:
        raise ConfigError(f"{what}: no such directory (a git tree is named REV:PATH)")
    _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd,
         f"{what}: no such directory, nor a git revision {rev!r} here")
    tree = _tree_path(rev, path, cwd, what)
    # From the top: run in a subdirectory, git archive would take only that part of a tree.
    cwd = Path(_git(["rev-parse", "--show-toplevel"], cwd, what).decode().strip())
    if not _is_tree(rev, tree, cwd):
        raise ConfigError(f"{what}: revision {rev} has no directory {tree or '.'!r}")
    side = scratch / role.lower()
    _extract(rev, tree, cwd, side / "sdf", what)
    if distrofile_dirs:
        return SdfSet(arg, side / "sdf", tuple(distrofile_dirs))
    beside = posixpath.normpath(posixpath.join(tree, "..", "distrofiles")) if tree else ""
    if beside and not beside.startswith("..") and _is_tree(rev, beside, cwd):
        _extract(rev, beside, cwd, side / "distrofiles", what)
        return SdfSet(arg, side / "sdf", (side / "distrofiles",))
    return SdfSet(arg, side / "sdf", ())
