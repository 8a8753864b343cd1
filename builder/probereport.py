"""``builder probe`` output: a table for people, a JSON document for tools.

Pure presentation over ``builder.probefix``'s report; the JSON schema (``builder-probe``,
version 1) is documented in the README. Fields are only ever added within a version.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from typing import Any

from builder.probe import ProbeRun
from builder.probefix import ProbeReport, TracedNeed

SCHEMA = "builder-probe"
SCHEMA_VERSION = 1
_PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_SHOWN = 60


def totals(report: ProbeReport) -> dict[str, tuple[int, int]]:
    """(passed, run) per platform."""
    counts: dict[str, tuple[int, int]] = {str(p): (0, 0) for p in report.platforms}
    for run in report.runs:
        passed, total = counts.get(str(run.platform), (0, 0))
        counts[str(run.platform)] = (passed + run.passed, total + 1)
    return counts


def unseen(run: ProbeRun) -> list[str]:
    """For a failed traced run, what no fix can bring: programs and interpreters it
    could not run that no package ships, commands its PATH search did not find, and
    what the tracer left out (other than qemu-user's own lookups)."""
    if run.passed or run.trace is None:
        return []
    found = [f"{p.path} (no package ships it)" for p in run.trace.of_kind("missing")
             if {"exec", "interp"} & set(p.ops)]
    searched: dict[str, int] = {}
    for path in run.trace.of_kind("missing"):
        folder, name = posixpath.split(path.path)
        if folder in _PATH_DIRS:
            searched[name] = searched.get(name, 0) + 1
    found += [f"command {name} (in no PATH directory, shipped by no package)"
              for name, count in sorted(searched.items()) if count >= 2]
    found += [f"{reason}: {count}" for reason, count in sorted(run.trace.ignored.items())
              if not reason.startswith("qemu-user")]
    return found


def _probe_text(run: ProbeRun) -> str:
    shown = shlex.join((posixpath.basename(run.command[0]), *run.probe.args))
    return shown if len(shown) <= _SHOWN else shown[:_SHOWN - 3] + "..."


def _need_json(need: TracedNeed, written: bool) -> dict[str, Any]:
    return {"slice": str(need.slice), "kind": need.kind, "target": need.target,
            "path": need.path, "op": need.op, "command": need.command,
            "package": need.package, "platform": need.platform, "comment": need.comment,
            "written": written}


def probe_json(sdf_dir: str, report: ProbeReport) -> dict[str, Any]:
    """The ``--json`` document of a probe run."""
    written = set(report.written)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "sdf_dir": sdf_dir,
        "platforms": [str(p) for p in report.platforms], "traced": report.traced,
        "rounds": report.rounds, "seconds": round(report.seconds, 3),
        "round_seconds": [round(s, 3) for s in report.round_seconds],
        "totals": {platform: {"passed": passed, "run": run}
                   for platform, (passed, run) in totals(report).items()},
        "slices": [{
            "slice": str(s.slice), "parts": [str(p) for p in s.parts],
            "image_slices": [str(p) for p in s.image_slices],
            "build_seconds": round(s.build_seconds, 3),
            "runs": [{
                "program": run.program.path, "platform": str(run.platform),
                "args": list(run.probe.args), "expect_exit": run.probe.exit,
                "expect_output": run.probe.output, "passed": run.passed,
                "exit_code": run.exit_code, "reason": run.reason,
                "seconds": round(run.seconds, 3), "output": run.output,
                "unseen": unseen(run),
            } for run in s.runs],
        } for s in report.slices],
        "needs": [_need_json(n, n in written) for n in report.needs],
    }


def render_table(report: ProbeReport, *, fix: bool) -> str:
    """The report for people: a line per probe with its verdict per platform, then the
    failures, the traced needs and what the tracer could not see."""
    platforms = [str(p) for p in report.platforms]
    lines = []
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for s in report.slices:
        for run in s.runs:
            key = (str(s.slice), run.program.path, _probe_text(run))
            rows.setdefault(key, {})[str(run.platform)] = "PASS" if run.passed else "FAIL"
    widths = [max([len(k[i]) for k in rows] + [len(h)])
              for i, h in enumerate(("SLICE", "PROGRAM", "PROBE"))]
    header = ["SLICE", "PROGRAM", "PROBE", *(p.split("/")[1] for p in platforms)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths + [5] * len(platforms),
                                                      strict=True)).rstrip())
    last = ("", "")
    for key, verdicts in rows.items():
        shown = [key[0] if key[0] != last[0] else "",
                 key[1] if key[:2] != last else "", key[2]]
        last = key[:2]
        cells = [c.ljust(w) for c, w in zip(shown, widths, strict=True)]
        cells += [verdicts.get(p, "-").ljust(5) for p in platforms]
        lines.append("  ".join(cells).rstrip())
    failed = [run for run in report.runs if not run.passed]
    if failed:
        lines += ["", "FAILURES"]
        for run in failed:
            lines.append(f"  {run.platform} {_probe_text(run)}: {run.reason}")
            for item in unseen(run):
                lines.append(f"      cannot be fixed from the repositories: {item}")
    if report.needs:
        written = set(report.written)
        title = "TRACED NEEDS (written into the SDFs)" if fix else \
            "TRACED NEEDS (--fix writes the deps and paths)"
        lines += ["", title]
        for need in report.needs:
            mark = "+" if need in written else " "
            lines.append(f"  {mark} {str(need.slice):<24} {need.kind:<10} {need.target}  "
                         f"# {need.comment}")
    lines.append("")
    counts = totals(report)
    summary = "; ".join(f"{p}: {passed} of {run} passed" for p, (passed, run)
                        in counts.items())
    lines.append(f"{summary} ({len(report.slices)} images, {report.rounds} round(s), "
                 f"{report.seconds:.1f} s{', traced' if report.traced else ''})")
    return "\n".join(lines)


def failed_runs(report: ProbeReport) -> Sequence[ProbeRun]:
    """The runs that did not pass."""
    return [run for run in report.runs if not run.passed]
