"""A :class:`~sdfgen.slicing.proposal.Proposal` as SDF text: deterministic, commented,
corpus layout.

New files are written as text, not through a YAML emitter, so that the layout is exactly
the corpus' (2-space indent, ``  - item`` lists, a blank line between slices, empty map
values ``/path:``) and comments sit where a reviewer needs them: the header names the
NEVRA per arch, the sdfgen version and a fingerprint of the file lists for ``--update``
(:mod:`sdfgen.slicing.header`); a dep says which need made it; a path decided by the
model says so (``# model: data 0.81 vs left-out 0.19``) and guesses are marked
``uncertain``; a trailing block lists the files left out, by reason and directory with
counts. The same proposal always gives the same bytes.
"""

from __future__ import annotations

import json
import posixpath
import re

from sdfgen import __version__
from sdfgen.slicing.header import header_lines
from sdfgen.slicing.proposal import LeftOut, Proposal, ProposedSlice

_PLAIN = re.compile(r"^/[A-Za-z0-9/_.+\-*?@,=~%]*$")


def yaml_key(path: str) -> str:
    """``path`` as a YAML map key: plain where that is safe, else double-quoted."""
    if _PLAIN.match(path) and not path.endswith(":"):
        return path
    return json.dumps(path, ensure_ascii=False)


def _comment(text: str | None) -> str:
    return f"  # {_one_line(text)}" if text else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def emit(proposal: Proposal) -> str:
    """The SDF text of ``proposal``."""
    out: list[str] = []
    out.append(f"# Proposed by sdfgen {__version__} (sdfgen propose); review before use.")
    out.extend(header_lines(proposal.nevras, proposal.file_lists))
    roles = "rules + learned model" if proposal.model else "rules only (--no-model)"
    out.append(f"# file roles: {roles}; 'uncertain' marks guesses to check")
    package = proposal.package
    out.append(f"package: {json.dumps(package) if ':' in package or '#' in package else package}")
    out.append("")
    if proposal.top_deps:
        out.append("deps:")
        out.extend(f"  - {ref}" for ref in proposal.top_deps)
        out.append("")
    if not proposal.slices:
        out.append("slices: {}")
    else:
        out.append("slices:")
        for index, slice_ in enumerate(proposal.slices):
            if index:
                out.append("")
            out.extend(_slice(slice_, proposal.arches))
    out.extend(_trailer(proposal))
    return "\n".join(out) + "\n"


def _slice(slice_: ProposedSlice, arches: tuple[str, ...]) -> list[str]:
    out = [f"  {slice_.name}:"]
    if slice_.deps:
        out.append("    deps:")
        for dep in slice_.deps:
            if dep.note:
                out.append(f"      # {_one_line(dep.note)}")
            why = dep.reason + (f" (+{dep.more} more)" if dep.more else "")
            if dep.arches:
                why += f" ({', '.join(dep.arches)} only)"
            out.append(f"      - {dep.ref}{_comment(why)}")
    common = [line for line in slice_.paths if line.placement.platform is None]
    extra = {}
    for arch in arches:
        lines = [line for line in slice_.paths if line.placement.platform == f"linux-{arch}"]
        if lines:
            extra[f"linux-{arch}"] = lines
    out.append("    contents:")
    if common:
        out.append("      common:")
        out.extend(f"        {yaml_key(line.placement.pattern)}:{_comment(line.comment)}"
                   for line in common)
    if extra:
        out.append("      extra:")
        for platform, lines in extra.items():
            out.append(f"        {platform}:")
            out.extend(f"          {yaml_key(line.placement.pattern)}:{_comment(line.comment)}"
                       for line in lines)
    return out


def _trailer(proposal: Proposal) -> list[str]:
    out: list[str] = []
    if proposal.unresolved:
        out.append("")
        out.append("# Needs no slice satisfies (add the dep by hand):")
        out.extend(f"#   {_one_line(item)}" for item in proposal.unresolved)
    if proposal.left_out or proposal.directories:
        out.append("")
        out.append("# Left out of every slice, by reason and directory"
                   f" ({proposal.directories} directories not listed: the slices that"
                   " need them make them):")
        out.extend(left_out_lines(proposal.left_out))
    return out


_NAMES_SHOWN = 3  # a directory with more left-out files shows only its count


def left_out_lines(items: tuple[LeftOut, ...] | list[LeftOut], indent: str = "#   ") -> list[str]:
    """``items`` grouped by reason, then directory (and arches), with counts: one line
    per directory, naming its files when there are at most three."""
    groups: dict[str, dict[tuple[str, tuple[str, ...]], list[LeftOut]]] = {}
    for item in items:
        directory = posixpath.dirname(item.path) or "/"
        groups.setdefault(item.group, {}).setdefault((directory, item.arches), []).append(item)
    out: list[str] = []
    for group, directories in groups.items():
        out.append(f"{indent}{_one_line(group)}:")
        for (directory, arches), members in sorted(directories.items()):
            names = sorted(posixpath.basename(m.path) for m in members)
            where = directory.rstrip("/") + "/"
            if len(members) == 1:
                text = where + names[0]
            elif len(members) <= _NAMES_SHOWN:
                text = f"{where} ({len(members)}): {', '.join(names)}"
            else:
                text = f"{where} ({len(members)} files)"
            tail = []
            if len(members) == 1 and members[0].detail:
                tail.append(members[0].detail)
            if arches:
                tail.append(f"{', '.join(arches)} only")
            suffix = f"  ({_one_line('; '.join(tail))})" if tail else ""
            out.append(f"{indent}  {_one_line(text)}{suffix}")
    return out
