"""Limits on YAML input: size, nesting depth and aliases, checked before a document is built.

Every YAML file the tools read (SDFs, Distrofiles) goes through
:func:`sdfgen.sdf.document.parse_document`, which calls :func:`check_limits` first: a
hostile file (a "billion laughs" alias bomb, a 50 MB SDF, nesting that exhausts Python's
stack) is refused with one line naming the file instead of hanging or crashing the tools.
Only this module and ``document`` import ruamel.yaml.
"""

from __future__ import annotations

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)

from sdfgen.errors import SdfError

# Documented in the README's "Limits" paragraph. The largest corpus SDF is 23 KB, 8
# levels deep, without an alias; check takes about 5 s per MiB, so 4 MiB bounds it at
# about 20 s while leaving room for a proposal that lists thousands of left-out files.
MAX_BYTES = 4 * 1024 * 1024
# ruamel composes (and our walks recurse) one Python frame or more per level: about 300
# levels exhaust the interpreter's stack. No SDF or Distrofile needs more than 10.
MAX_DEPTH = 64
# Aliases are legal YAML but no SDF uses them. A few are allowed (a shared list of
# paths); a "billion laughs" document (each level aliases the one before, directly or
# through merge keys ``<<: *a``) costs x9 per level in every walk over the data.
MAX_ALIASES = 64
MAX_ALIAS_NODES = 10_000  # nodes that all aliases together stand for, expanded


def limit_text() -> str:
    """The size limit as people write it (``4 MiB``)."""
    return f"{MAX_BYTES // (1024 * 1024)} MiB"


class YamlLimitError(SdfError):
    """A YAML input exceeds a limit (size, depth, aliases): refused before it is loaded."""


def check_limits(text: str, name: str) -> None:
    """Raise :class:`YamlLimitError` if ``text`` (named ``name`` in messages) exceeds a
    limit, or :class:`SdfError` if it is not YAML.

    One pass over ruamel's event stream (the parser keeps its own stack, so it neither
    recurses nor expands aliases): depth is the number of open collections, and each
    anchor's expanded size is known when its node ends, so what the aliases would expand
    to is counted without expanding anything.
    """
    if len(text) > MAX_BYTES:  # characters, a lower bound of the bytes: no parsing needed
        raise YamlLimitError(f"{name}: {len(text)} characters, over the limit of "
                             f"{limit_text()} for a YAML input")
    # One entry per open collection: its anchor and the expanded nodes inside it so far.
    open_nodes: list[tuple[str | None, int]] = []
    anchor_sizes: dict[str, int] = {}  # expanded nodes of each anchored node, once ended
    aliases = alias_nodes = 0
    try:
        for event in YAML(typ="rt").parse(text):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, DocumentStartEvent):
                anchor_sizes.clear()  # anchors are local to a document
                continue
            anchor = getattr(event, "anchor", None)
            if anchor is not None and not isinstance(event, AliasEvent):
                if anchor in anchor_sizes or any(anchor == a for a, _ in open_nodes):
                    # Legal YAML (the later one wins) but no SDF has even one anchor;
                    # refusing it keeps the accounting below simple and exact.
                    raise YamlLimitError(f"{name}:{line}: anchor &{anchor} is defined twice "
                                         "(refused in a YAML input)")
            if isinstance(event, CollectionStartEvent):
                open_nodes.append((anchor, 0))
                if len(open_nodes) > MAX_DEPTH:
                    raise YamlLimitError(f"{name}:{line}: nested deeper than the limit of "
                                         f"{MAX_DEPTH} levels for a YAML input")
                continue
            if isinstance(event, CollectionEndEvent):
                anchor, inside = open_nodes.pop()
                size = 1 + inside
            elif isinstance(event, AliasEvent):
                if any(anchor == a for a, _ in open_nodes):
                    raise YamlLimitError(f"{name}:{line}: alias *{anchor} refers to a node "
                                         "that contains it (recursive data is refused)")
                aliases += 1
                size = anchor_sizes.get(str(anchor), 1)  # undefined: ruamel says so later
                alias_nodes += size
                if aliases > MAX_ALIASES or alias_nodes > MAX_ALIAS_NODES:
                    raise YamlLimitError(
                        f"{name}:{line}: aliases over the limit for a YAML input "
                        f"({aliases} aliases standing for {alias_nodes} nodes so far; at "
                        f"most {MAX_ALIASES} aliases and {MAX_ALIAS_NODES} nodes)")
                anchor = None  # an alias defines nothing
            elif isinstance(event, ScalarEvent):
                size = 1
            else:
                continue  # stream and document ends
            if anchor is not None:
                anchor_sizes[anchor] = size
            if open_nodes:
                parent, inside = open_nodes[-1]
                open_nodes[-1] = (parent, inside + size)
    except YAMLError as exc:
        raise not_yaml(exc, name) from exc


def not_yaml(exc: YAMLError, name: str) -> SdfError:
    """The one-line message for a YAML syntax error: file, line and problem."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = exc.problem or exc.context or "invalid YAML"
        return SdfError(f"{where}: not valid YAML: {problem}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
    return SdfError(f"{name}: not valid YAML: {first}")
