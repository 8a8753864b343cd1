"""Which slice each file of a package goes into, on every arch: roles -> slice names.

A file's role comes from the classifier (rules, plus the learned model where the rules
only guess). Roles map to the conventional slice names of the corpus (``libs``,
``bins``, ``scripts``, ``config``, ``data``, ``locale``, ``dev``, ``copyright``), with
three sub-slicings the corpus does for large packages:

- plugins (ELF without SONAME in a loader's directory) go into ``libs`` as openEuler's
  openssl-libs does, unless one plugin directory holds many of them (glibc's ``gconv/``):
  then that directory (with its data files, ``gconv-modules``) becomes its own slice;
- executables get one slice each (named after the binary, like chisel's ``getconf``)
  when a package ships libraries *and* several executables (glibc): an image that wants
  ``getent`` should not get ``localedef``;
- many data files below one directory with several sub-directories (tzdata's zoneinfo)
  are split per sub-directory (``africa``, ``america``, ...); files directly in that
  directory go to ``base`` unless they are symlinks into a sub-directory;
- heavy optional Python extension modules get slices of their own
  (:mod:`sdfgen.slicing.layout`).

Names derived from file names carry no version (``python3.11`` -> ``python3``; the
symlink ``python3`` and its target then share the slice). Test suites, environment
templates and Windows-only files of a language's tree are left out whatever their role.

Entries the builder refuses (:func:`sdfgen.slicing.sliceable.refusal`: an unsafe path,
a device node or fifo, a symlink above the root) are left out with that reason, never
classified. Sub-slicing is decided on the union of all arches so that every arch gets the
same slice names. Everything here is pure: facts in, a :class:`SlicePlan` out.
"""

from __future__ import annotations

import dataclasses
import functools
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sdfgen.facts import FileKind, PackageFile
from sdfgen.roles.features import PackageContext, package_context
from sdfgen.roles.labels import Role
from sdfgen.roles.model import Decision
from sdfgen.slicing.layout import REASONS as LAYOUT_REASONS
from sdfgen.slicing.layout import extension_slice, not_for_runtime, unversioned
from sdfgen.slicing.sliceable import refusal

# How the caller decides a file's role: roles.model.classify with or without the model,
# given the package's context (what its other files are, as the model was trained).
Decide = Callable[[str, str, PackageFile, PackageContext], Decision]

# Thresholds of the sub-slicings (see the module docstring).
PLUGIN_DIR_SLICE_MIN = 16  # plugins in one directory before it gets its own slice
SPLIT_BINS_MIN = 3  # executables (with libraries in the package) before one slice each
TOPIC_DATA_MIN = 200  # data files below one directory before it is split by topic
TOPIC_DIRS_MIN = 4  # sub-directories that directory needs

ROLE_SLICE = {
    Role.COPYRIGHT: "copyright",
    Role.LIBS: "libs",
    Role.MODULES: "libs",  # the corpus convention: openssl-libs' engines are in libs
    Role.BINS: "bins",
    Role.SCRIPTS: "scripts",
    Role.CONFIG: "config",
    Role.DATA: "data",
    Role.LOCALE: "locale",
    Role.DEV: "dev",
}
# Slice order in the output: the corpus puts libs first and copyright last.
_ROLE_RANK = {"libs": 0, "modules": 1, "bins": 2, "scripts": 3, "config": 4, "data": 5,
              "locale": 6, "dev": 7, "copyright": 9}
_RESERVED = frozenset(ROLE_SLICE.values()) | {"base", "modules"}
_BIN_DIR = re.compile(r"^(?:/usr(?:/local)?)?/s?bin/[^/]+$|^/usr/libexec/")
_TRIPLET = re.compile(r"[a-z0-9_]+-linux-gnu[a-z0-9_]*")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_PLUGIN_DIR = re.compile(
    r"/(engines-\d+|ossl-modules|gconv|lib-dynload|security|sasl2|xtables|plugins?|"
    r"modules|pkcs11|audit|dri)(?=/)"
)


@dataclass(frozen=True)
class FileChoice:
    """One file's role, the classifier's decision, and its slice (None: left out)."""

    path: str
    role: Role
    decision: Decision
    slice: str | None
    uncertain: bool  # the model decided, or the rules guessed and the model was unsure

    @property
    def comment(self) -> str | None:
        """What a YAML comment says about the decision (None for sure rule decisions)."""
        if self.decision.source in ("model", "opened"):
            return self.decision.reason
        if self.uncertain:
            return f"uncertain: {self.decision.reason}"
        return None


@dataclass(frozen=True)
class SlicePlan:
    """Per arch, each file's :class:`FileChoice`; plus the slices in output order."""

    package: str
    arches: tuple[str, ...]
    files: Mapping[str, Mapping[str, PackageFile]]  # arch -> path -> file
    choices: Mapping[str, Mapping[str, FileChoice]]  # arch -> path -> choice
    order: tuple[str, ...]
    optional: frozenset[str] = frozenset()  # slices an image gets only by naming them

    def slice_of(self, arch: str, path: str) -> str | None:
        """The slice of ``path`` on ``arch`` (None: left out or not in the package)."""
        choice = self.choices.get(arch, {}).get(path)
        return choice.slice if choice is not None else None

    def members(self, name: str) -> dict[str, set[str]]:
        """The paths of slice ``name``, per arch."""
        return {arch: set(self._by_slice[arch].get(name, ())) for arch in self.arches}

    @functools.cached_property
    def _by_slice(self) -> dict[str, dict[str | None, list[str]]]:
        # arch -> slice -> paths: grouped once, not by one pass over every file per slice.
        grouped: dict[str, dict[str | None, list[str]]] = {}
        for arch in self.arches:
            per_arch = grouped[arch] = {}
            for path, choice in self.choices[arch].items():
                per_arch.setdefault(choice.slice, []).append(path)
        return grouped


def slice_name(text: str) -> str:
    """``text`` as a valid slice name: lower case, ``[a-z0-9-]``, no ``_``."""
    name = _NOT_NAME.sub("-", text.lower()).strip("-")
    return name or "files"


def resolve_link(path: str, target: str) -> str:
    """The absolute, normalised path a symlink at ``path`` pointing to ``target`` names."""
    joined = target if target.startswith("/") else posixpath.join(posixpath.dirname(path),
                                                                  target)
    return posixpath.normpath(joined)


def _role(path: str, file: PackageFile, decision: Decision) -> Role:
    """The decision's role, corrected where the facts say more than the rules used."""
    role = decision.role
    # A static-pie executable (ldconfig) is ET_DYN without SONAME or interpreter; the
    # rules take it for a plugin, but a bin directory says it is run, not loaded.
    if role in (Role.MODULES, Role.LIBS) and _BIN_DIR.search(path) and file.elf is not None:
        return Role.BINS
    return role


def _uncertain(decision: Decision, confident: bool | None) -> bool:
    if confident is not None:
        return not confident
    return decision.source == "model" or bool(decision.probabilities)


def plan_slices(package: str, files_by_arch: Mapping[str, Sequence[PackageFile]],
                decide: Decide, confidence: Callable[[str, str, PackageFile], bool] | None
                = None) -> SlicePlan:
    """Classify every file of ``package`` on every arch and give it a slice.

    ``decide`` returns the classifier's decision; ``confidence`` (rules-only mode) says
    whether the rules were sure, where the decision itself cannot tell.
    """
    arches = tuple(files_by_arch)
    files = {arch: {f.path: f for f in files_by_arch[arch]} for arch in arches}
    context = package_context(package, {path for arch in arches
                                        for path, f in files[arch].items()
                                        if f.kind is not FileKind.DIR})
    roles: dict[str, dict[str, tuple[Role, Decision, bool]]] = {}
    # path -> (file, its role): a file equal on another arch (all of a noarch package)
    # is classified once; the decision is a function of the path, the file and the context.
    earlier: dict[str, tuple[PackageFile, tuple[Role, Decision, bool]]] = {}
    for arch in arches:
        roles[arch] = {}
        for path, file in files[arch].items():
            if file.kind is FileKind.DIR:
                continue  # directories are made by the slices that need them
            seen = earlier.get(path)
            if seen is not None and (seen[0] is file or seen[0] == file):
                roles[arch][path] = seen[1]
                continue
            refused = refusal(file)
            if refused is not None:
                # What the builder refuses no slice may select: left out, with the reason.
                roles[arch][path] = (Role.LEFT_OUT, Decision(
                    Role.LEFT_OUT, "rules", f"the builder refuses it: {refused.reason}"),
                    False)
                continue
            unneeded = not_for_runtime(path)
            if unneeded is not None:
                roles[arch][path] = (Role.LEFT_OUT, Decision(Role.LEFT_OUT, "rules", unneeded),
                                     False)
                earlier[path] = (file, roles[arch][path])
                continue
            decision = decide(path, package, file, context)
            confident = confidence(path, package, file) if confidence else None
            roles[arch][path] = (_role(path, file, decision), decision,
                                 _uncertain(decision, confident))
            earlier[path] = (file, roles[arch][path])
    names = _SliceNamer(files, roles)
    choices: dict[str, dict[str, FileChoice]] = {}
    for arch in arches:
        choices[arch] = {}
        for path, (role, decision, uncertain) in sorted(roles[arch].items()):
            name = names.name(arch, path, role) if role.included else None
            choices[arch][path] = FileChoice(path, role, decision, name, uncertain)
    _break_link_cycles(files, choices)
    used = {c.slice for per_arch in choices.values() for c in per_arch.values() if c.slice}
    order = tuple(sorted(used, key=names.rank))
    return SlicePlan(package, arches, files, choices, order,
                     frozenset(names.extension_slices))


def include_opened(plan: SlicePlan, opened: Sequence[tuple[str, str, str]]) -> SlicePlan:
    """``plan`` with the package's own left-out files that its ELF objects open by name
    (``(arch, object, path)``, see :mod:`sdfgen.rpm.opened`) in the opening object's slice.

    Documentation is never opened (:mod:`sdfgen.rpm.opened` skips it); test suites,
    environment templates, Windows-only files and what the builder refuses stay out.
    """
    choices = {arch: dict(per_arch) for arch, per_arch in plan.choices.items()}
    changed = False
    for arch, needed_by, path in sorted(opened):
        per_arch = choices.get(arch, {})
        opener, target = per_arch.get(needed_by), per_arch.get(path)
        file = plan.files.get(arch, {}).get(path)
        if (opener is None or opener.slice is None or target is None
                or target.slice is not None or file is None or refusal(file) is not None
                or target.decision.reason in LAYOUT_REASONS):
            continue
        reason = f"opened by {posixpath.basename(needed_by)}: a path in its strings"
        per_arch[path] = FileChoice(path, Role.DATA, Decision(Role.DATA, "opened", reason),
                                    opener.slice, False)
        changed = True
    if not changed:
        return plan
    return dataclasses.replace(plan, choices=choices)


def _break_link_cycles(files: Mapping[str, Mapping[str, PackageFile]],
                       choices: dict[str, dict[str, FileChoice]]) -> None:
    """Move symlinks so that slices of one package never depend on each other in a ring.

    A symlink needs the slice of its target; tzdata's Asia/Istanbul -> ../Europe/Istanbul
    and Europe/Nicosia -> ../Asia/Nicosia would make ``asia`` and ``europe`` depend on
    each other, a cycle chisel refuses and ``sdfgen check`` reports. While a cycle
    remains, the links of its thinnest edge move into their targets' slice.
    """
    # The symlinks, found and resolved once: each round below only looks at them.
    links = [(arch, path, resolve_link(path, file.link_target))
             for arch, per_arch in files.items() for path, file in per_arch.items()
             if file.kind is FileKind.SYMLINK and file.link_target]
    while True:
        edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for arch, path, resolved in links:
            source = choices[arch].get(path)
            target = choices[arch].get(resolved)
            if (source is None or target is None or source.slice is None
                    or target.slice is None or source.slice == target.slice):
                continue
            edges.setdefault((source.slice, target.slice), []).append((arch, path))
        cycle = _find_cycle(set(edges))
        if not cycle:
            return
        edge = min(cycle, key=lambda e: (len(edges[e]), e))
        for arch, path in edges[edge]:
            choices[arch][path] = dataclasses.replace(choices[arch][path], slice=edge[1])


def _find_cycle(edges: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges of one cycle of the directed graph ``edges`` (empty: acyclic)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[tuple[str, str]]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                ring = path[path.index(nxt):] + [nxt]
                return list(zip(ring, ring[1:], strict=False))
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _fold(path: str) -> str:
    """``path`` with its multiarch triplet folded, to count files across arches once."""
    return _TRIPLET.sub("<triplet>", path)


class _SliceNamer:
    """The sub-slicing decisions, taken once over all arches, then applied per file."""

    def __init__(self, files: Mapping[str, Mapping[str, PackageFile]],
                 roles: Mapping[str, Mapping[str, tuple[Role, Decision, bool]]]) -> None:
        self.files = files
        by_role: dict[Role, set[str]] = {}
        for per_arch in roles.values():
            for path, (role, _decision, _uncertain) in per_arch.items():
                by_role.setdefault(role, set()).add(_fold(path))
        self.plugin_dirs = self._plugin_dirs(by_role.get(Role.MODULES, set()))
        # Only executables in bin directories count: a language's stdlib has executable
        # modules (python3's cgi.py) that are library code, not commands.
        executables = {p for p in by_role.get(Role.BINS, set()) | by_role.get(Role.SCRIPTS,
                                                                               set())
                       if _BIN_DIR.search(p)}
        self.split_bins = (bool(by_role.get(Role.LIBS))
                           and len({posixpath.basename(p) for p in executables})
                           >= SPLIT_BINS_MIN)
        self.topic_root = self._topic_root(by_role.get(Role.DATA, set()))
        self.topics: set[str] = set()
        self.bin_slices: set[str] = set()
        self.extension_slices: set[str] = set()

    @staticmethod
    def _plugin_dirs(modules: set[str]) -> dict[str, str]:
        """Folded plugin directory -> slice name, for directories with many plugins."""
        counts: Counter[str] = Counter()
        for path in modules:
            match = _PLUGIN_DIR.search(path)
            if match:
                counts[path[:match.end()]] += 1
        return {directory: slice_name(unversioned(posixpath.basename(directory)))
                for directory, count in counts.items() if count >= PLUGIN_DIR_SLICE_MIN}

    @staticmethod
    def _topic_root(data: set[str]) -> str | None:
        """The directory whose sub-directories split the data files, if there is one."""
        if len(data) < TOPIC_DATA_MIN:
            return None
        root = posixpath.commonpath(sorted(data)) if len(data) > 1 else None
        if not root or root == "/":
            return None
        subdirs = {p[len(root) + 1:].split("/", 1)[0] for p in data
                   if "/" in p[len(root) + 1:]}
        return root if len(subdirs) >= TOPIC_DIRS_MIN else None

    def _plugin_slice(self, path: str) -> str | None:
        if not self.plugin_dirs:
            return None
        folded = _fold(path)
        for directory, name in self.plugin_dirs.items():
            if folded.startswith(directory + "/"):
                return name
        return None

    def _topic(self, arch: str, path: str) -> str:
        assert self.topic_root is not None
        rest = path[len(self.topic_root) + 1:]
        if "/" in rest:
            topic = slice_name(rest.split("/", 1)[0])
        else:
            topic = "base"
            file = self.files[arch].get(path)
            if file is not None and file.kind is FileKind.SYMLINK and file.link_target:
                target = resolve_link(path, file.link_target)
                inner = target[len(self.topic_root) + 1:]
                if target.startswith(self.topic_root + "/") and "/" in inner:
                    topic = slice_name(inner.split("/", 1)[0])
        if topic in _RESERVED - {"base"}:
            topic += "-data"
        self.topics.add(topic)
        return topic

    def name(self, arch: str, path: str, role: Role) -> str:
        """The slice of an included file with ``role``."""
        plugin = self._plugin_slice(path)
        if plugin is not None and role in (Role.MODULES, Role.LIBS, Role.DATA, Role.CONFIG):
            optional = extension_slice(path)
            if optional is not None and role in (Role.MODULES, Role.LIBS):
                self.extension_slices.add(optional)
                return optional
            return plugin
        if role in (Role.BINS, Role.SCRIPTS) and self.split_bins and _BIN_DIR.search(path):
            name = slice_name(unversioned(posixpath.basename(path)))
            if name in _RESERVED:
                name += "-bin"
            self.bin_slices.add(name)
            return name
        if role is Role.DATA and self.topic_root and path.startswith(self.topic_root + "/"):
            return self._topic(arch, path)
        return ROLE_SLICE[role]

    def rank(self, name: str) -> tuple[int, str]:
        """Sort key of a slice: role slices in corpus order, sub-slices next to their role."""
        if name in _ROLE_RANK:
            return (_ROLE_RANK[name], "")
        if name in self.plugin_dirs.values():
            return (_ROLE_RANK["modules"], name)
        if name in self.extension_slices:
            return (_ROLE_RANK["modules"], "~" + name)  # after the directory's own slice
        if name in self.bin_slices:
            return (_ROLE_RANK["bins"], name)
        if name in self.topics:
            return (_ROLE_RANK["data"], "" if name == "base" else name)
        return (8, name)
