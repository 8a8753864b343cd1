"""From Debian packages to an rpmbuild spec: staging tree, file list and EVR.

The debs are extracted as they are (paths, modes, symlinks, setuid bits) into a
staging tree; the spec's %install copies that tree, and its %files lists every entry
with the attribute openEuler would give it: %license for copyright files (moved to
/usr/share/licenses/NAME/), %doc for documentation, %config(noreplace) for Debian
conffiles, %dir for the directories the debs ship.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _mkrepo_apt import DebFile
from _mkrepo_catalog import PackageSpec, SampleRepoError

from sdfgen.facts import Evr

_DOC_PREFIXES = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/")
# rpm globs %files paths. rpm 4.18 keeps a backslash escape as part of the name when the
# rest has no glob character (`\[` is then "not found"), so each one is bracketed
# instead: `[[]` matches exactly `[`, `[*]` exactly `*`. Braces cannot be written: rpm
# expands them before brackets are read, so names with braces are refused.
_GLOB_CHARS = re.compile(r"([*?\[\]])")


@dataclass(frozen=True)
class StagedTree:
    """A staging directory holding the RPM's future payload, and facts about it."""

    root: Path
    conffiles: frozenset[str]  # absolute paths flagged %config(noreplace)
    license_dir: str  # /usr/share/licenses/NAME


def deb_evr(deb_version: str, release_tag: str, suffix: str = "") -> Evr:
    """RPM Epoch/Version/Release for a Debian version.

    "1:1.2.13.dfsg-1" -> 1:1.2.13.dfsg-1.oe2403; the Debian revision becomes the
    Release (native packages get "0"), and '-' or ':' left in a part become '_'
    because rpm does not allow them there.
    """
    epoch = 0
    rest = deb_version
    if ":" in rest:
        head, rest = rest.split(":", 1)
        if not head.isdigit():
            raise SampleRepoError(f"Debian version {deb_version!r}: epoch is not a number")
        epoch = int(head)
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, "0"

    def clean(part: str) -> str:
        return re.sub(r"[^A-Za-z0-9._+~^]", "_", part)

    release = f"{clean(revision)}.{release_tag}" + (f".{suffix}" if suffix else "")
    return Evr(epoch, clean(upstream), release)


def _run(cmd: Sequence[str], what: str) -> bytes:
    result = subprocess.run(list(cmd), capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise SampleRepoError(f"{what}: {message[-1] if message else 'failed'}")
    return result.stdout


def read_conffiles(deb: DebFile) -> list[str]:
    """The absolute paths listed in the deb's control 'conffiles' member."""
    control = _run(["dpkg-deb", "--ctrl-tarfile", str(deb.path)], f"{deb.path.name}")
    with tarfile.open(fileobj=io.BytesIO(control)) as tar:
        for member in tar.getmembers():
            if member.name.lstrip("./") == "conffiles" and member.isfile():
                stream = tar.extractfile(member)
                text = stream.read().decode() if stream else ""
                # dpkg >= 1.20 may append flags ("remove-on-upgrade") after the path
                return [t for line in text.splitlines() for t in line.split()[:1]
                        if t.startswith("/")]
    return []


def _is_regular(path: Path) -> bool:
    """True for a regular file reached without following any symlink on the way."""
    return not path.is_symlink() and not path.parent.is_symlink() and path.is_file()


def stage(spec: PackageSpec, debs: Sequence[DebFile], license_debs: Sequence[DebFile],
          root: Path) -> StagedTree:
    """Extract *debs* into *root* and shape the tree; returns what %files needs to know."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    conffiles: set[str] = set()
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb.path), str(root)], f"{spec.name}: {deb.path.name}")
        conffiles.update(read_conffiles(deb))
    license_dir = f"/usr/share/licenses/{spec.name}"
    target_dir = root / license_dir.lstrip("/")
    target_dir.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        copyright_file = root / "usr/share/doc" / deb.name / "copyright"
        if _is_regular(copyright_file):
            os.replace(copyright_file, target_dir / f"{deb.name}.copyright")
    for deb in license_debs:
        scratch = root.parent / f"{root.name}.license-{deb.name}"
        shutil.rmtree(scratch, ignore_errors=True)
        _run(["dpkg-deb", "-x", str(deb.path), str(scratch)], f"{spec.name}: {deb.path.name}")
        copyright_file = scratch / "usr/share/doc" / deb.name / "copyright"
        if not _is_regular(copyright_file):
            raise SampleRepoError(f"{spec.name}: {deb.path.name} has no copyright file")
        shutil.copy2(copyright_file, target_dir / f"{deb.name}.copyright")
        shutil.rmtree(scratch)
    if not any(target_dir.iterdir()):
        raise SampleRepoError(
            f"{spec.name}: none of {', '.join(d.name for d in debs)} has its own copyright "
            "file; name the deb that holds it in 'license_from'"
        )
    for path in spec.drop:
        victim = root / path.lstrip("/")
        if not victim.is_symlink() and not victim.exists():
            raise SampleRepoError(
                f"{spec.name}: drop path {path} is not shipped by {', '.join(spec.debs)}"
            )
        if victim.is_dir() and not victim.is_symlink():
            shutil.rmtree(victim)
        else:
            victim.unlink()
        conffiles.discard(path)
    for path, target in spec.symlinks:
        link = root / path.lstrip("/")
        if link.is_symlink() or link.exists():
            raise SampleRepoError(f"{spec.name}: symlink {path} already exists in the debs")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    for path, pattern in spec.concat:
        # what a maintainer script would generate at install time (RPMs built here
        # carry no scripts), e.g. ca-certificates' bundle from update-ca-certificates
        parts = sorted(p for p in root.glob(pattern.lstrip("/")) if p.is_file())
        if not parts:
            raise SampleRepoError(f"{spec.name}: concat glob {pattern} matches no file")
        generated = root / path.lstrip("/")
        if generated.is_symlink() or generated.exists():
            raise SampleRepoError(f"{spec.name}: concat generated {path} already exists")
        generated.parent.mkdir(parents=True, exist_ok=True)
        with generated.open("wb") as out:
            for part in parts:
                data = part.read_bytes()
                out.write(data if data.endswith(b"\n") else data + b"\n")
    present = {c for c in conffiles if (root / c.lstrip("/")).is_file()}
    return StagedTree(root=root, conffiles=frozenset(present), license_dir=license_dir)


def _quote(path: str) -> str:
    if any(char in path for char in '"\n\\{}'):
        raise SampleRepoError(f"file name {path!r} cannot be written in a spec file")
    return '"' + _GLOB_CHARS.sub(r"[\1]", path).replace("%", "%%") + '"'


def file_list(tree: StagedTree) -> list[str]:
    """The %files lines for every directory, file and symlink of the staging tree."""
    lines: list[str] = []
    for dirpath, dirnames, filenames in os.walk(tree.root):
        dirnames.sort()
        rel_dir = "/" + os.path.relpath(dirpath, tree.root)
        if rel_dir != "/.":
            lines.append(f"%dir {_quote(rel_dir)}")
        base = "" if rel_dir == "/." else rel_dir
        # os.walk lists symlinks to directories among dirnames; they are files to rpm
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = [d for d in dirnames if d not in links]
        for name in sorted(filenames + links):
            path = f"{base}/{name}"
            if path.startswith(tree.license_dir + "/"):
                lines.append(f"%license {_quote(path)}")
            elif path.startswith(_DOC_PREFIXES):
                lines.append(f"%doc {_quote(path)}")
            elif path in tree.conffiles:
                lines.append(f"%config(noreplace) {_quote(path)}")
            else:
                lines.append(_quote(path))
    return lines


def render_spec(spec: PackageSpec, evr: Evr, tree: StagedTree, debs: Sequence[DebFile],
                noarch: bool, distribution: str) -> str:
    """The complete spec file text; %install copies the staging tree as it is."""
    origin = ", ".join(f"{d.name} {d.version} ({d.arch})" for d in debs)
    header = [
        # No compilation happens: keep the files byte-identical to Debian's.
        "%global debug_package %{nil}",
        "%global __os_install_post %{nil}",
        "%define _build_id_links none",
        "%define _binary_payload w19.zstdio",
        "%define _binary_filedigest_algorithm 8",
    ]
    if spec.requires_exclude:
        joined = "|".join(f"({p})" for p in spec.requires_exclude)
        header.append(f"%global __requires_exclude {joined.replace('%', '%%')}")
    header += [
        f"Name: {spec.name}",
        *([f"Epoch: {evr.epoch}"] if evr.epoch else []),
        f"Version: {evr.version}",
        f"Release: {evr.release}",
        f"Summary: {spec.summary.replace('%', '%%')}",
        f"License: {spec.license}",
        "URL: https://www.debian.org/distrib/packages",
        "Vendor: sdfgen sample repository",
        f"Distribution: {distribution}",
        *(["BuildArch: noarch"] if noarch else []),
        *(f"Provides: {capability}" for capability in spec.provides),
        "",
        "%description",
        f"{spec.summary.replace('%', '%%')}.",
        f"Repackaged without changes from Debian bookworm: {origin}.",
        "",
        "%install",
        f"cp -a '{tree.root}/.' %{{buildroot}}/",
        "",
        "%files",
        "%defattr(-,root,root,-)",
    ]
    return "\n".join(header + file_list(tree)) + "\n"
