"""Cut slices out of one RPM: one streaming pass over its payload, only selected entries.

``cut_package`` reads the RPM with ``read_rpm(wants=..., on_content=...)``: regular
files a slice selects are written to the rootfs while the payload streams by; every
other file is skipped unread. Directories, symlinks and hard links come from the
header's file list after the pass, with the modes, owners and mtimes the RPM gives
them, and so do the directories above each selected entry when the RPM has them.
Only the globs of the target arch (``common`` plus ``extra.linux-{arch}``) apply. A
glob that selects nothing is an error (splitter would extract the whole RPM), and
so is any unsafe payload entry: the package is refused, not partly trusted. A slice
that selects an entry :func:`sdfgen.slicing.sliceable.refusal` refuses (a device node,
a fifo, an unsafe path) is refused too: the predicate ``propose`` and ``check`` use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from builder.errors import BuildError
from builder.rootwriter import RootWriter, Written
from sdfgen.facts import FileFlag, FileKind, PackageFile, RpmPackage
from sdfgen.rpm.reader import read_rpm
from sdfgen.sdf.globs import is_glob, literal_head, matcher
from sdfgen.sdf.model import PathRule, SliceRef
from sdfgen.slicing.sliceable import refusal

# Accounts of the base image (see builder.basefiles); RPM files owned by anyone else
# cannot be given a numeric owner, so they are refused.
ACCOUNTS: Mapping[str, int] = {"root": 0, "nonroot": 65532, "nobody": 65534}


@dataclass(frozen=True)
class SliceSelection:
    """One slice to cut: its reference, the rules that apply on the arch, its SDF file."""

    ref: SliceRef
    rules: tuple[PathRule, ...]
    sdf_name: str


@dataclass(frozen=True)
class CutFile:
    """An entry written to the rootfs, with the slices that selected it."""

    path: str
    kind: FileKind
    size: int
    sha256: str
    slices: tuple[str, ...]


@dataclass(frozen=True)
class PackageCut:
    """What one RPM contributed: its facts, the entries taken, and its whole size."""

    rpm: RpmPackage
    files: tuple[CutFile, ...]
    package_bytes: int  # installed size of the whole package (regular files, links once)
    selected_bytes: int  # what the selected regular files weigh (hard links once)
    slice_bytes: dict[str, int] = field(default_factory=dict)


def _owner(rpm_name: str, entry: PackageFile) -> tuple[int, int]:
    try:
        return ACCOUNTS[entry.user], ACCOUNTS[entry.group]
    except KeyError as exc:
        raise BuildError(f"{rpm_name}: {entry.path} belongs to {entry.user}:{entry.group}, "
                         f"not an account of the image ({', '.join(ACCOUNTS)})") from exc


class _Selector:
    """Which slices select a path (memoized), and which rules have selected anything."""

    def __init__(self, selections: Sequence[SliceSelection]) -> None:
        self.selections = selections
        self.hits: set[tuple[int, int]] = set()
        self._memo: dict[str, tuple[str, ...]] = {}
        # Literal paths are looked up, only globs are matched (most rules are literal).
        # A glob can only select paths starting with its literal head, so globs are
        # grouped by head (per head length): a path tries only the globs whose head it
        # starts with, however many globs an SDF has (a large package's has hundreds).
        self._literal: dict[str, list[tuple[int, int]]] = {}
        by_head: dict[int, dict[str, list[tuple[int, int, Callable[[str], bool]]]]] = {}
        for s_index, selection in enumerate(selections):
            for r_index, rule in enumerate(selection.rules):
                if is_glob(rule.pattern):
                    head = literal_head(rule.pattern)
                    by_head.setdefault(len(head), {}).setdefault(head, []).append(
                        (s_index, r_index, matcher(rule.pattern)))
                else:
                    self._literal.setdefault(rule.pattern, []).append((s_index, r_index))
        self._globs = sorted(by_head.items())
        self._refs = [str(selection.ref) for selection in selections]

    def slices_of(self, path: str) -> tuple[str, ...]:
        found = self._memo.get(path)
        if found is None:
            hits = self._literal.get(path, [])
            for length, globs in self._globs:
                if length > len(path):
                    break
                candidates = globs.get(path[:length])
                if candidates:
                    hits = hits + [(s, r) for s, r, match in candidates if match(path)]
            if not hits:
                found = self._memo[path] = ()
                return found
            self.hits.update(hits)
            found = self._memo[path] = tuple(dict.fromkeys(self._refs[s] for s, _ in sorted(hits)))
        return found

    def unmatched(self) -> list[tuple[SliceSelection, PathRule]]:
        return [(selection, rule)
                for s_index, selection in enumerate(self.selections)
                for r_index, rule in enumerate(selection.rules)
                if (s_index, r_index) not in self.hits]


def cut_package(rpm_path: Path, selections: Sequence[SliceSelection], writer: RootWriter,
                *, arch: str) -> PackageCut:
    """Write the entries ``selections`` select from the RPM at ``rpm_path``; return the cut.

    Raises BuildError for a glob that selects nothing, an unsafe payload entry, an
    unknown owner, a conflict with an entry already in the image, or an escape
    attempt; RpmError for a corrupt RPM (the caller discards the rootfs).
    """
    selector = _Selector(selections)
    name = rpm_path.name
    written: dict[str, Written] = {}  # image path -> what its content write produced
    data_path: dict[str, str] = {}  # hard link set (its first member) -> path written

    def wants(path: str) -> bool:
        return bool(selector.slices_of(path))

    def on_content(entry: PackageFile, stream: BinaryIO) -> None:
        uid, gid = _owner(name, entry)
        written[entry.path] = writer.write_file(
            entry.path, stream, mode=entry.mode, uid=uid, gid=gid, mtime=entry.mtime,
            origin=name)
        data_path[_link_set(entry)] = entry.path

    rpm = read_rpm(rpm_path, elf=False, wants=wants, on_content=on_content)
    if rpm.problems:
        first = rpm.problems[0]
        more = f" (and {len(rpm.problems) - 1} more)" if len(rpm.problems) > 1 else ""
        raise BuildError(f"{name}: unsafe or inconsistent payload entry {first.entry!r}: "
                         f"{first.problem}{more}; refusing the package")
    by_path = {entry.path: entry for entry in rpm.files}
    selected = [entry for entry in rpm.files if selector.slices_of(entry.path)]
    for entry in selected:
        # The predicate propose and ``sdfgen check`` apply: what they accept, this takes.
        refused = refusal(entry)
        if refused is not None:
            raise BuildError(f"{name}: {entry.path} is {refused.reason}; slice "
                             f"{selector.slices_of(entry.path)[0]} selects it; refusing it")
    missing = selector.unmatched()
    if missing:
        selection, rule = missing[0]
        where = f"{selection.sdf_name}:{rule.line}" if rule.line else selection.sdf_name
        raise BuildError(f"{where}: slice {selection.ref} glob {rule.pattern} selects nothing "
                         f"in {rpm.nevra} for {arch} (splitter would take the whole package)")
    _make_parents(selected, by_path, writer, name)
    files: list[CutFile] = []
    for entry in selected:
        if FileFlag.GHOST in entry.flags:
            continue  # rpm creates no content for ghosts; neither does the image
        slices = selector.slices_of(entry.path)
        uid, gid = _owner(name, entry)
        if entry.kind is FileKind.DIR:
            writer.mkdir(entry.path, mode=entry.mode, uid=uid, gid=gid, mtime=entry.mtime,
                         origin=name)
            files.append(CutFile(entry.path, entry.kind, 0, "", slices))
        elif entry.kind is FileKind.SYMLINK:
            writer.symlink(entry.path, entry.link_target or "", uid=uid, gid=gid,
                           mtime=entry.mtime, origin=name)
            files.append(CutFile(entry.path, entry.kind, 0, "", slices))
        elif entry.kind in (FileKind.FILE, FileKind.HARDLINK):
            if entry.path not in written:
                source = data_path.get(_link_set(entry))
                if source is None:
                    raise BuildError(f"{name}: {entry.path} is selected but has no data in "
                                     "the payload")
                writer.hardlink(entry.path, source, origin=name)
                written[entry.path] = written[source]
            done = written[entry.path]
            files.append(CutFile(entry.path, entry.kind, done.size, done.sha256, slices))
        else:  # unreachable: refusal() refused every other kind above
            raise BuildError(f"{name}: {entry.path} is a device, fifo or socket; slices "
                             "cannot carry it")
    return PackageCut(rpm, tuple(files), _installed_size(rpm), _selected_size(files),
                      _slice_bytes(files))


def _link_set(entry: PackageFile) -> str:
    """The key of a hard link set: its first member's path (a plain file: its own)."""
    return entry.link_target if entry.kind is FileKind.HARDLINK and entry.link_target \
        else entry.path


def _make_parents(selected: Sequence[PackageFile],
                  by_path: Mapping[str, PackageFile], writer: RootWriter, name: str) -> None:
    """Give each directory above a selected entry the RPM's mode and owner, if it has one."""
    parents: set[str] = set()
    for entry in selected:
        parts = entry.path.split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            parents.add("/" + "/".join(parts[:depth]))
    for path in sorted(parents):
        directory = by_path.get(path)
        if directory is not None and directory.kind is FileKind.DIR:
            uid, gid = _owner(name, directory)
            writer.mkdir(path, mode=directory.mode, uid=uid, gid=gid, mtime=directory.mtime,
                         origin=name)


def _installed_size(rpm: RpmPackage) -> int:
    return sum(entry.size for entry in rpm.files
               if entry.kind is FileKind.FILE and FileFlag.GHOST not in entry.flags)


def _selected_size(files: Sequence[CutFile]) -> int:
    return sum(f.size for f in files if f.kind is FileKind.FILE)


def _slice_bytes(files: Sequence[CutFile]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for f in files:
        if f.kind is FileKind.FILE:
            for ref in f.slices:
                sizes[ref] = sizes.get(ref, 0) + f.size
    return sizes
