"""The review as Markdown fit to paste into a pull request (GitHub, Gitee).

Pure: takes a :class:`~sdfgen.review.collect.Review` and returns text. Sections: a
summary line, the slice graph picture, slices added, removed or renamed with who uses
them, per package the builds and the package's own file changes, the slices' files and
bytes per arch before and after, the SDF's changes as :func:`sdfgen.sdf.diff.render_diff`
says them, and the check findings of the new set. A change equal on every arch is one
row or line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sdfgen.checks.findings import Finding, Severity
from sdfgen.review.collect import BuildChange, PackageReview, Review, SliceUses, Use
from sdfgen.sdf.diff import fold_path, on_arches, render_diff

MAX_LISTED = 20  # files of a package's own change listed before "and N more"
FOLD_FINDINGS = 10  # more findings than this go into a <details> block


def _code(text: str) -> str:
    """``text`` as inline code, safe in a table cell."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _bytes(before: int, after: int) -> tuple[str, str]:
    delta = after - before
    return f"{before:,} → {after:,}", (f"{delta:+,}" if delta else "same")


def render_report(review: Review, picture: str | None = None,
                  svg: str | None = None) -> str:
    """The Markdown of ``review``; ``picture`` and ``svg`` are the graph's file names
    (relative to the report), shown and linked when given."""
    lines = [f"## SDF review: {_code(review.old_label)} → {_code(review.new_label)}", ""]
    lines += [_summary(review), ""]
    if picture:
        lines += [f"![slice dependency graph]({picture})", ""]
        link = f" ([SVG]({svg}))" if svg else ""
        lines += [f"<sub>Slice dependency graph{link}: changed slices bold and coloured, "
                  "removed ones dashed, dotted arrows from top-level deps, Distrofiles "
                  "that use a changed slice on the left.</sub>", ""]
    if review.uses:
        lines += ["### Slices added, removed or renamed", ""]
        for uses in review.uses:
            lines += _uses(uses)
        lines.append("")
    if review.packages:
        lines += ["### Packages", ""]
        for package in review.packages:
            lines += _package(package, review)
    lines += _findings(review.findings, review.with_repository)
    if review.problems:
        lines += ["### Distrofiles that do not resolve", ""]
        lines += [f"- {problem}" for problem in review.problems]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _summary(review: Review) -> str:
    counts = {"added": 0, "removed": 0, "renamed": 0}
    for uses in review.uses:
        counts[uses.change] += 1
    errors = sum(f.severity is Severity.ERROR for f in review.findings)
    warnings = len(review.findings) - errors
    verdict = "passes" if not errors else "fails"
    where = (f"on {', '.join(review.arches)}" if review.with_repository
             else "without a repository")
    return (f"**{len(review.packages)} package(s) changed**, {review.unchanged} unchanged; "
            f"slices: {counts['renamed']} renamed, {counts['added']} added, "
            f"{counts['removed']} removed; `sdfgen check` {verdict} {where} "
            f"({errors} error(s), {warnings} warning(s)).")


def _who(uses: Sequence[Use]) -> str:
    distros = [f"{_code(u.user)} ({u.how})" for u in uses if u.kind == "distrofile"]
    sdfs: dict[str, list[str]] = {}
    for use in uses:
        if use.kind == "sdf":
            sdfs.setdefault(use.user, []).append(use.how)
    parts = []
    if distros:
        parts.append("Distrofile " + ", ".join(distros))
    if sdfs:
        parts.append("SDF " + ", ".join(f"{_code(user)} ({', '.join(hows)})"
                                        for user, hows in sdfs.items()))
    return "; ".join(parts) or "nothing"


def _uses(uses: SliceUses) -> list[str]:
    if uses.change == "renamed":
        assert uses.old_ref is not None and uses.new_ref is not None
        share = ("same files" if uses.overlap == 1.0
                 else f"{uses.overlap:.0%} of its files in common")
        lines = [f"- **renamed** {_code(uses.old_ref)} → {_code(uses.new_ref)} ({share})",
                 f"  - used before by: {_who(uses.before)}",
                 f"  - uses of the new name: {_who(uses.after)}"]
    elif uses.change == "removed":
        assert uses.old_ref is not None
        lines = [f"- **removed** {_code(uses.old_ref)}",
                 f"  - used before by: {_who(uses.before)}"]
    else:
        assert uses.new_ref is not None
        lines = [f"- **added** {_code(uses.new_ref)}", f"  - used by: {_who(uses.after)}"]
    if uses.stale:
        lines.append(f"  - ⚠️ still naming {_code(uses.old_ref or '')}: {_who(uses.stale)}")
    return lines


def _package(package: PackageReview, review: Review) -> list[str]:
    if package.old_file is None:
        title = f"#### {_code(package.package)}: new SDF {_code(package.new_file or '')}"
    elif package.new_file is None:
        title = f"#### {_code(package.package)}: SDF {_code(package.old_file)} removed"
    else:
        title = f"#### {_code(package.package)} ({_code(package.new_file)})"
    lines = [title, ""]
    lines += _builds(package, review.arches)
    lines += _own_files(package, review.arches)
    lines += _sizes(package, review.arches)
    changes = render_diff(replace(package.diff, sizes=()), review.arches)
    if changes != ["no semantic change"]:
        lines += ["SDF changes:", "", "```diff", *changes, "```", ""]
    return lines


def _nevr(nevra: str | None, arch: str) -> str | None:
    """``nevra`` without its ``.arch`` (so that both arches' builds read as one)."""
    if nevra is None:
        return None
    for suffix in (f".{arch}", ".noarch"):
        if nevra.endswith(suffix):
            return nevra[:-len(suffix)]
    return nevra


def _build_name(nevr: str | None, source: str) -> str:
    if nevr is None:
        return "none"
    return _code(nevr) + (" (the repositories' newest)" if source == "repository" else "")


def _builds(package: PackageReview, arches: Sequence[str]) -> list[str]:
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for build in package.builds:
        old = _build_name(_nevr(build.old, build.arch), build.old_from)
        new = _build_name(_nevr(build.new, build.arch), build.new_from)
        grouped.setdefault((old, new, _own(build)), []).append(build.arch)
    lines = []
    for (old, new, own), on in grouped.items():
        where = on_arches(on, arches)
        if old == new:
            lines.append(f"- build {old} on {where}, unchanged")
        else:
            lines.append(f"- build {old} → **{new}** on {where}; the package's own files: "
                         f"{own}")
    return lines + [""] if lines else []


def _own(build: BuildChange) -> str:
    added, dropped = build.files_added, build.files_dropped
    if build.old == build.new:
        return "same build"
    if added is None or dropped is None:
        return "unknown (a build is not in the repositories)"
    if not added and not dropped:
        return "the same paths"
    return f"+{len(added)} −{len(dropped)} file(s)"


def _own_files(package: PackageReview, arches: Sequence[str]) -> list[str]:
    grouped: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for build in package.builds:
        if build.files_added or build.files_dropped:
            key = (tuple(fold_path(p) for p in build.files_added or ()),
                   tuple(fold_path(p) for p in build.files_dropped or ()))
            grouped.setdefault(key, []).append(build.arch)
    lines: list[str] = []
    for (added, dropped), on in grouped.items():
        lines += [f"Files the package itself added (+) or dropped (−) on "
                  f"{on_arches(on, arches)}:", "", "```diff"]
        listed = [f"+ {path}" for path in added] + [f"- {path}" for path in dropped]
        lines += listed[:MAX_LISTED]
        if len(listed) > MAX_LISTED:
            lines.append(f"  ... and {len(listed) - MAX_LISTED} more")
        lines += ["```", ""]
    return lines


def _sizes(package: PackageReview, arches: Sequence[str]) -> list[str]:
    sizes = package.diff.sizes
    if not sizes:
        return []
    renamed = {new: old for old, new in package.diff.renamed}
    order = {name: index for index, name in enumerate(dict.fromkeys(z.slice for z in sizes))}
    grouped: dict[tuple[str, int, int, int, int], list[str]] = {}
    totals: dict[str, list[int]] = {}
    for size in sorted(sizes, key=lambda z: (order[z.slice], list(arches).index(z.arch)
                                             if z.arch in arches else 0)):
        key = (size.slice, size.files_before, size.files_after, size.before, size.after)
        grouped.setdefault(key, []).append(size.arch)
        total = totals.setdefault(size.arch, [0, 0, 0, 0])
        for index, value in enumerate((size.files_before, size.files_after, size.before,
                                       size.after)):
            total[index] += value
    rows = ["| slice | arch | files before → after | bytes before → after | change |",
            "|---|---|---:|---:|---:|"]
    for (name, files_before, files_after, before, after), on in grouped.items():
        label = _code(name) + (f" (was {_code(renamed[name])})" if name in renamed else "")
        shown, delta = _bytes(before, after)
        rows.append(f"| {label} | {on_arches(on, arches)} | {files_before} → {files_after} "
                    f"| {shown} | {delta} |")
    by_total: dict[tuple[int, ...], list[str]] = {}
    for arch, total in totals.items():
        by_total.setdefault(tuple(total), []).append(arch)
    summary = []
    for sums, on in by_total.items():
        shown, delta = _bytes(sums[2], sums[3])
        rows.append(f"| **all slices** | {on_arches(on, arches)} | {sums[0]} → {sums[1]} "
                    f"| {shown} | {delta} |")
        summary.append(f"{on_arches(on, arches)}: {sums[1]} files, {sums[3]:,} bytes")
    if any(z.before != z.after or z.files_before != z.files_after for z in sizes):
        return rows + [""]
    # Nothing moved: the figures are there to look up, not to read.
    return [f"<details><summary>Files and bytes per slice: unchanged "
            f"({'; '.join(summary)})</summary>", "", *rows, "", "</details>", ""]


def _findings(findings: Sequence[Finding], with_repository: bool) -> list[str]:
    lines = ["### `sdfgen check` of the new set", ""]
    if not with_repository:
        lines += ["Repository checks skipped (no `--mirror`, `--repo` or `--repofile`).", ""]
    if not findings:
        return lines + ["No findings.", ""]
    rows = ["| where | | id | message |", "|---|---|---|---|"]
    for item in findings:
        where = f"{item.file}:{item.line}" if item.line else item.file
        message = item.message.replace("|", "\\|")
        rows.append(f"| {_code(where)} | {item.severity.value} | {_code(item.id)} | "
                    f"{message} |")
    if len(findings) > FOLD_FINDINGS:
        return lines + [f"<details><summary>{len(findings)} findings</summary>", "", *rows,
                        "", "</details>", ""]
    return lines + rows + [""]
