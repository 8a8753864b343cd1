"""Files every distroless image needs that no slice provided: accounts, /tmp, os-release.

A package manager would have run scriptlets (useradd, update-ca-certificates,
ldconfig) and the ``filesystem``/``setup`` packages would have laid out /etc, /tmp
and /home. Slices run nothing, so the builder adds the small set an image needs,
and only where no slice put the entry already. Everything added is returned so the
build can print it and list it in the SBOM: nothing appears in the image unseen.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from builder.rootwriter import RootWriter, Written

ORIGIN = "builder base files"

PASSWD = """root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
"""
GROUP = """root:x:0:
nobody:x:65534:
nonroot:x:65532:
"""
NSSWITCH = """# Written by the sdfgen builder: files only, plus DNS for hosts.
passwd:     files
group:      files
shadow:     files
hosts:      files dns
networks:   files
protocols:  files
services:   files
ethers:     files
rpc:        files
"""


@dataclass(frozen=True)
class BaseEntry:
    """One entry the builder adds: a directory (``content`` None) or a file."""

    path: str
    mode: int
    uid: int = 0
    gid: int = 0
    content: bytes | None = None
    why: str = ""


@dataclass(frozen=True)
class AddedEntry:
    """A base entry that was actually added (no slice provided it)."""

    entry: BaseEntry
    written: Written


def os_release(name: str, release: str) -> bytes:
    """/etc/os-release naming the openEuler release and the image."""
    version = release or "unknown"
    version_id = version.split("-")[0]
    return (f'NAME="openEuler"\nVERSION="{version}"\nID="openEuler"\n'
            f'VERSION_ID="{version_id}"\nPRETTY_NAME="openEuler {version} ({name}, '
            'distroless)"\nANSI_COLOR="0;31"\n').encode()


def base_entries(name: str, release: str) -> tuple[BaseEntry, ...]:
    """The base entries of an image called ``name`` of openEuler ``release``, parents first."""
    return (
        BaseEntry("/etc", 0o755, why="configuration directory"),
        BaseEntry("/etc/passwd", 0o644, content=PASSWD.encode(),
                  why="accounts root (0), nonroot (65532), nobody (65534)"),
        BaseEntry("/etc/group", 0o644, content=GROUP.encode(), why="groups of those accounts"),
        BaseEntry("/etc/nsswitch.conf", 0o644, content=NSSWITCH.encode(),
                  why="glibc NSS: look accounts and hosts up in files"),
        BaseEntry("/etc/os-release", 0o644, content=os_release(name, release),
                  why="identifies the distribution"),
        BaseEntry("/home", 0o755, why="home directories"),
        BaseEntry("/home/nonroot", 0o700, 65532, 65532, why="home of nonroot"),
        BaseEntry("/root", 0o700, why="home of root"),
        BaseEntry("/tmp", 0o1777, why="world-writable temporary directory"),
    )


def add_base_files(writer: RootWriter, entries: Sequence[BaseEntry],
                   mtime: int) -> tuple[AddedEntry, ...]:
    """Add each entry that is not in the image yet; return the ones added."""
    added = []
    for entry in entries:
        if writer.lexists(entry.path):
            continue
        if entry.content is None:
            writer.mkdir(entry.path, mode=entry.mode, uid=entry.uid, gid=entry.gid,
                         mtime=mtime, origin=ORIGIN)
            written = Written()
        else:
            written = writer.write_file(entry.path, io.BytesIO(entry.content), mode=entry.mode,
                                        uid=entry.uid, gid=entry.gid, mtime=mtime,
                                        origin=ORIGIN)
        added.append(AddedEntry(entry, written))
    return tuple(added)
