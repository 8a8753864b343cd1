"""SDF files as YAML documents: round-trip load and dump that keeps comments and layout.

This module and :mod:`sdfgen.sdf.limits` are the only ones that import ruamel.yaml; this
is the one loader of every YAML input (SDFs, Distrofiles), which ``limits`` checks for
size, depth and aliases before any document is built. It loads in
round-trip mode (comments, key order, blank lines and quoting kept), exposes line numbers
for findings, finds duplicate keys (which ruamel would otherwise refuse or silently
merge), and offers
the small edits ``sdfgen propose --update`` needs: add a path, a dep or a slice.

The emitter is configured like the openEuler corpus (2-space maps, ``  - item`` lists
under a key), so an untouched corpus file dumps byte-identically. Two layouts cannot be
re-emitted by any YAML emitter (a flow map with value-less entries, a plain scalar folded
over two lines); :func:`dump_document` therefore returns the original text whenever the
document's data and comments are unchanged, and re-emits only edited documents.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.tokens import CommentToken

from sdfgen.errors import SdfError
from sdfgen.sdf.limits import (
    MAX_BYTES,
    YamlLimitError,
    check_limits,
    limit_text,
    not_yaml,
)

__all__ = ["SdfError", "YamlLimitError"]  # re-exported; SdfError also from .model


@dataclass(frozen=True)
class DuplicateKey:
    """A key that occurs twice in one YAML mapping (1-based lines)."""

    key: str
    line: int  # the repeated occurrence
    first_line: int


class Document:
    """A round-trip YAML document: ``data`` (ruamel maps and lists, mutable) plus its source."""

    def __init__(self, data: Any, source: str, path: Path | None,
                 duplicates: tuple[DuplicateKey, ...], *, editable: bool = True) -> None:
        self.data = data
        self.source = source
        self.path = path
        self.duplicates = duplicates
        # What ruamel emits for the untouched data: if a later dump equals it, nothing was
        # edited and the source text is returned as it was (see the module docstring).
        # Emitting costs as much as parsing, so a document only read does without it.
        self._baseline = emit_document(self) if editable else None


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold long globs
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = True  # reported as data by _duplicates, not raised
    return yaml


def parse_document(text: str, path: Path | None = None, *, editable: bool = True) -> Document:
    """Parse ``text`` (named ``path`` in messages) into a :class:`Document`, within the
    limits of :func:`check_limits`; raises :class:`SdfError` naming the input.
    ``editable=False``: only read, never dumped (:func:`dump_document` refuses it)."""
    name = str(path) if path is not None else "<string>"
    check_limits(text, name)
    yaml = _yaml()
    yaml.Constructor = _NodeKeepingConstructor
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise not_yaml(exc, name) from exc
    node = yaml.constructor.node
    duplicates = tuple(_duplicates(node)) if node is not None else ()
    return Document(data, text, path, duplicates, editable=editable)


class _NodeKeepingConstructor(RoundTripConstructor):
    """ruamel's round-trip constructor, keeping the composed node: duplicate keys are
    found on the node, and parsing once for both halves the cost of a load."""

    node: Node | None = None

    def get_single_data(self) -> Any:
        self.node = self.composer.get_single_node()
        return self.construct_document(self.node) if self.node is not None else None


def load_document(path: Path, *, editable: bool = True) -> Document:
    """Read and parse the YAML file (SDF, Distrofile) at ``path``; raises
    :class:`SdfError` naming the file, without reading more than the size limit."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SdfError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise YamlLimitError(f"{path}: larger than the limit of {limit_text()} for a "
                             "YAML input")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdfError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    return parse_document(text, Path(path), editable=editable)


def emit_document(doc: Document) -> str:
    """``doc`` re-emitted by ruamel.yaml (always; :func:`dump_document` avoids it when it can)."""
    if doc.data is None:
        # A file of comments only (a package commented out): nothing to emit but them.
        return doc.source
    out = io.StringIO()
    _yaml().dump(doc.data, out)
    text = out.getvalue()
    if not doc.source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]  # several corpus files lack a final newline; keep that as it was
    return text


def dump_document(doc: Document) -> str:
    """The text of ``doc``: its source if unedited, else the re-emitted YAML."""
    if doc._baseline is None:
        raise ValueError(f"{doc.path or '<string>'}: document was loaded read-only")
    text = emit_document(doc)
    return doc.source if text == doc._baseline else text


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory.

    A symlink is written through: its final target gets the new content (atomically) and
    the link stays a link, as an editor would leave it. A device or a pipe (``-o
    /dev/null``, ``-o >(less)``) is written into: renaming a file over it would replace
    the device with a regular file. A read-only file or directory (no write bit, which
    root would otherwise override) is refused, like any failure to write, with
    :class:`SdfError` naming it; the original is then intact.
    """
    link = Path(path)
    path = Path(os.path.realpath(link)) if link.is_symlink() else link
    if path.is_symlink():
        raise SdfError(f"{link}: symlink loop; not written")
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            raise SdfError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        return
    if path.is_dir():
        raise SdfError(f"{path}: is a directory; not written")
    directory = path.parent
    for what, where in (("file", path), ("directory", directory)):
        if where.exists() and not where.stat().st_mode & 0o222:
            raise SdfError(f"{where}: read-only {what}; not written (make it writable "
                           "first)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise SdfError(f"{directory}: cannot write there: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SdfError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        raise


# -- line numbers ---------------------------------------------------------------------

def key_line(mapping: Any, key: str) -> int | None:
    """1-based line of ``key`` in a loaded mapping, or None if unknown."""
    if isinstance(mapping, CommentedMap) and key in mapping:
        try:
            return int(mapping.lc.key(key)[0]) + 1
        except (KeyError, TypeError, IndexError):
            return None
    return None


def item_line(seq: Any, index: int) -> int | None:
    """1-based line of item ``index`` of a loaded sequence, or None if unknown."""
    if isinstance(seq, CommentedSeq):
        try:
            return int(seq.lc.item(index)[0]) + 1
        except (KeyError, TypeError, IndexError):
            return None
    return None


def node_line(value: Any) -> int | None:
    """1-based line where a loaded map or list starts, or None for scalars."""
    if isinstance(value, (CommentedMap, CommentedSeq)):
        return int(value.lc.line) + 1
    return None


def _duplicates(node: Node) -> Iterator[DuplicateKey]:
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                yield DuplicateKey(key, line, seen[key])
            else:
                seen[key] = line
            yield from _duplicates(value_node)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicates(item)


# -- edits for ``propose --update`` -------------------------------------------------------

class SdfEditError(SdfError):
    """An edit cannot be applied because the document's layout is not an SDF's."""


def _map_at(parent: CommentedMap, key: str, where: str) -> CommentedMap:
    """``parent[key]`` as a map, created (empty) when missing or null."""
    value = parent.get(key)
    if value is None:
        value = CommentedMap()
        parent[key] = value
    if not isinstance(value, CommentedMap):
        raise SdfEditError(f"{where}.{key} is a {type(value).__name__}, not a map")
    return value


def _root(doc: Document) -> CommentedMap:
    if doc.data is None:
        doc.data = CommentedMap()
    if not isinstance(doc.data, CommentedMap):
        raise SdfEditError(f"{doc.path or '<string>'}: top level is not a map")
    return doc.data


def add_slice(doc: Document, name: str) -> CommentedMap:
    """The slice ``name``'s map, appended to ``slices`` (created) if missing."""
    slices = _map_at(_root(doc), "slices", "top level")
    if name not in slices:
        slices[name] = CommentedMap()
        if len(slices) > 1:
            # The corpus separates slices by a blank line.
            slices.yaml_set_comment_before_after_key(name, before="\n", indent=2)
    value = slices[name]
    if value is None:
        value = slices[name] = CommentedMap()
    if not isinstance(value, CommentedMap):
        raise SdfEditError(f"slices.{name} is a {type(value).__name__}, not a map")
    return value


def _last_leaf(container: Any) -> tuple[Any, Any, int] | None:
    """(container, key or index, comment slot) of the last scalar under ``container``:
    ruamel hangs the blank lines and comments that follow a block on that scalar."""
    while True:
        if isinstance(container, CommentedMap) and container:
            key = list(container.keys())[-1]
            value = container[key]
            if isinstance(value, (CommentedMap, CommentedSeq)) and value:
                container = value
                continue
            return container, key, 2
        if isinstance(container, CommentedSeq) and container:
            index = len(container) - 1
            value = container[index]
            if isinstance(value, (CommentedMap, CommentedSeq)) and value:
                container = value
                continue
            return container, index, 0
        return None


def _detach_trailing(container: Any) -> Any:
    """Remove and return the blank lines/comments after ``container``'s last scalar,
    leaving an end-of-line comment of that scalar where it is."""
    leaf = _last_leaf(container)
    if leaf is None:
        return None
    owner, key, slot = leaf
    entry = owner.ca.items.get(key)
    if not entry or entry[slot] is None:
        return None
    token = entry[slot]
    head, sep, rest = token.value.partition("\n")
    if head.strip():
        # "key: # note" keeps its note; only what follows the line moves.
        token.value = head + sep
        return rest or None
    entry[slot] = None
    return token.value


def _attach_trailing(container: Any, value: Any) -> None:
    """Hang ``value`` (from :func:`_detach_trailing`) after ``container``'s last scalar."""
    if not value:
        return
    leaf = _last_leaf(container)
    if leaf is None:
        return
    owner, key, slot = leaf
    entry = owner.ca.items.setdefault(key, [None, None, None, None])
    if entry[slot] is not None:
        entry[slot].value += value
    else:
        entry[slot] = CommentToken(value, CommentMark(0), None)


def add_path(doc: Document, slice_name: str, pattern: str, arch: str | None = None) -> bool:
    """Add ``pattern`` to the slice's ``contents.common`` (or ``contents.extra.linux-ARCH``
    when ``arch`` is given), creating maps as needed; False if it was already there."""
    slice_map = add_slice(doc, slice_name)
    trailing = _detach_trailing(slice_map)
    try:
        return _add_path(slice_map, slice_name, pattern, arch)
    finally:
        _attach_trailing(slice_map, trailing)


def _contents_map(slice_map: CommentedMap, slice_name: str,
                  arch: str | None) -> CommentedMap:
    """The slice's ``contents.common`` map, or ``contents.extra.linux-ARCH``; made if absent."""
    contents = _map_at(slice_map, "contents", f"slices.{slice_name}")
    if arch is None:
        return _map_at(contents, "common", f"slices.{slice_name}.contents")
    extra = _map_at(contents, "extra", f"slices.{slice_name}.contents")
    return _map_at(extra, f"linux-{arch}", f"slices.{slice_name}.contents.extra")


def _add_path(slice_map: CommentedMap, slice_name: str, pattern: str,
              arch: str | None) -> bool:
    target = _contents_map(slice_map, slice_name, arch)
    if pattern in target:
        return False
    target[pattern] = None
    return True


def _add_to_list(parent: CommentedMap, key: str, item: str, where: str) -> bool:
    value = parent.get(key)
    if value is None:
        value = CommentedSeq()
        if key in parent:
            parent[key] = value
        else:
            _insert_first(parent, key, value)
    if not isinstance(value, CommentedSeq):
        raise SdfEditError(f"{where}.{key} is a {type(value).__name__}, not a list")
    if item in value:
        return False
    value.append(item)
    return True


def _insert_first(parent: CommentedMap, key: str, value: Any) -> None:
    # deps come before contents in every corpus slice.
    parent.insert(0, key, value)


def add_dep(doc: Document, slice_name: str, ref: str) -> bool:
    """Add ``ref`` (``pkg_slice``) to the slice's ``deps``; False if already there."""
    slice_map = add_slice(doc, slice_name)
    trailing = _detach_trailing(slice_map)
    try:
        return _add_to_list(slice_map, "deps", ref, f"slices.{slice_name}")
    finally:
        _attach_trailing(slice_map, trailing)


def add_top_dep(doc: Document, ref: str) -> bool:
    """Add ``ref`` to the top-level ``deps`` (after ``package``); False if already there."""
    root = _root(doc)
    if "deps" not in root:
        seq = CommentedSeq()
        position = 1 if "package" in root else 0
        root.insert(position, "deps", seq)
    deps = root["deps"]
    trailing = _detach_trailing(deps)
    try:
        return _add_to_list(root, "deps", ref, "top level")
    finally:
        _attach_trailing(deps if isinstance(root["deps"], CommentedSeq) else None, trailing)


# -- placed edits for ``propose --update`` (comments stay with their entries) -------------

def _split_after_line(token_owner: Any, key: Any, slot: int) -> str:
    """Cut what follows the first line off ``key``'s comment (its end-of-line comment
    stays) and return it: comment lines and blank lines that precede the next entry."""
    entry = token_owner.ca.items.get(key)
    if not entry or entry[slot] is None:
        return ""
    token = entry[slot]
    head, sep, rest = token.value.partition("\n")
    if not head.strip():
        # No end-of-line comment: after the key's own line end, lines only.
        entry[slot] = None
        return rest
    token.value = head + sep
    return rest


def _hang(owner: Any, key: Any, slot: int, comment: str | None, rest: str) -> None:
    text = (f" # {' '.join(comment.split())}\n" if comment else "\n") + rest
    if text == "\n":
        return
    owner.ca.items[key] = [None, None, None, None]
    owner.ca.items[key][slot] = CommentToken(text, CommentMark(0), None)


def insert_path(doc: Document, slice_name: str, pattern: str, arch: str | None = None, *,
                after: str | None = None, comment: str | None = None) -> bool:
    """Add ``pattern`` like :func:`add_path`, but right after the pattern ``after`` of the
    same map when it is there (else at the end), with an end-of-line ``comment``. The
    comment lines that preceded the next entry still precede it; False if already there."""
    slice_map = add_slice(doc, slice_name)
    trailing = _detach_trailing(slice_map)
    try:
        target = _contents_map(slice_map, slice_name, arch)
        if pattern in target:
            return False
        keys = list(target.keys())
        position = keys.index(after) + 1 if after in keys else len(keys)
        rest = _split_after_line(target, keys[position - 1], 2) if position else ""
        target.insert(position, pattern, None)
        _hang(target, pattern, 2, comment, rest)
        return True
    finally:
        _attach_trailing(slice_map, trailing)


def append_dep(doc: Document, slice_name: str, ref: str, comment: str | None = None) -> bool:
    """Add ``ref`` to the slice's ``deps`` like :func:`add_dep`, with an end-of-line
    ``comment``; comment lines after the last dep stay after the list. False if there."""
    slice_map = add_slice(doc, slice_name)
    trailing = _detach_trailing(slice_map)
    try:
        deps = slice_map.get("deps")
        if not isinstance(deps, CommentedSeq) or not deps:
            added = _add_to_list(slice_map, "deps", ref, f"slices.{slice_name}")
            if added:
                _hang(slice_map["deps"], 0, 0, comment, "")
            return added
        if ref in deps:
            return False
        rest = _split_after_line(deps, len(deps) - 1, 0)
        deps.append(ref)
        _hang(deps, len(deps) - 1, 0, comment, rest)
        return True
    finally:
        _attach_trailing(slice_map, trailing)

