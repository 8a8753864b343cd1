"""``builder trace`` output: a table per platform for people, a JSON document for tools.

Pure presentation over ``builder.trace``'s results; the JSON schema (``builder-trace``,
version 1) is documented in the README. Fields are only ever added within a version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from builder.trace import KINDS, PlatformTrace, Shipper, TracedPath

SCHEMA = "builder-trace"
SCHEMA_VERSION = 1
_EXAMPLES = 3
_TITLES = {
    "shipped": "MISSING FROM THE IMAGE, SHIPPED BY A PACKAGE",
    "present": "PRESENT IN THE IMAGE",
    "missing": "MISSING EVERYWHERE (probes), by nearest directory of the image",
    "runtime": "RUNTIME FILESYSTEMS (/proc, /sys, /dev: a container runtime mounts them, "
               "the chroot does not)",
    "created": "CREATED BY THE PROGRAM",
}


def missing_by_directory(trace: PlatformTrace) -> list[dict[str, Any]]:
    """The ``missing`` paths counted per nearest existing directory of the image, with
    a few examples relative to it; most first."""
    groups: dict[str, list[str]] = {}
    for path in trace.of_kind("missing"):
        near = path.near or "/"
        groups.setdefault(near, []).append(path.path[len(near.rstrip("/")) + 1:])
    return [{"directory": near, "count": len(rest), "examples": rest[:_EXAMPLES]}
            for near, rest in sorted(groups.items(), key=lambda item: (-len(item[1]),
                                                                       item[0]))]


def _shipper_json(shipper: Shipper) -> dict[str, Any]:
    return {"package": shipper.package, "nevra": shipper.nevra, "file": shipper.file,
            "slice": shipper.slice, "sdf": shipper.sdf, "in_image": shipper.in_image}


def _path_json(path: TracedPath) -> dict[str, Any]:
    return {"path": path.path, "kind": path.kind, "ops": list(path.ops),
            "attempts": path.attempts, "errno": path.errno, "resolved": path.resolved,
            "near": path.near, "shipped_by": [_shipper_json(s) for s in path.shipped_by]}


def trace_json(image: str, traces: Sequence[PlatformTrace]) -> dict[str, Any]:
    """The ``--json`` document of the traces of one image."""
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "image": image,
        "platforms": [{
            "platform": str(trace.platform), "arch": trace.platform.machine,
            "command": list(trace.command), "exit_code": trace.exit_code,
            "problem": trace.problem, "seconds": round(trace.seconds, 3),
            "output": trace.output,
            "counts": {kind: len(trace.of_kind(kind)) for kind in KINDS},
            "paths": [_path_json(path) for path in trace.paths],
            "missing_by_directory": missing_by_directory(trace),
            "ignored": dict(sorted(trace.ignored.items())),
        } for trace in traces],
    }


def _rows(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return [indent + "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                                row[-1]]).rstrip()
            for row in (header, *rows)]


def _slice_text(shipper: Shipper) -> str:
    if shipper.slice is None:
        return (f"no slice of {shipper.sdf} selects it" if shipper.sdf
                else "no SDF in --sdf-dir")
    return shipper.slice + ("" if shipper.in_image else " (not in the image)")


def _tried(path: TracedPath) -> str:
    return ",".join(path.ops) + (f" x{path.attempts}" if path.attempts > 1 else "")


def render_table(trace: PlatformTrace) -> str:
    """The trace of one platform as text: a headline, then the paths grouped by kind."""
    counts = ", ".join(f"{len(trace.of_kind(kind))} {kind}" for kind in KINDS)
    ended = (trace.problem if trace.exit_code is None
             else f"exited {trace.exit_code} after {trace.seconds:.1f} s")
    lines = [f"{trace.platform}: {' '.join(trace.command)}: {ended}; {counts}"]
    shipped = trace.of_kind("shipped")
    if shipped:
        lines += ["", "  " + _TITLES["shipped"]]
        rows = [[path.path, _tried(path), shipper.nevra, shipper.file, _slice_text(shipper)]
                for path in shipped for shipper in path.shipped_by]
        lines += _rows(["PATH", "TRIED", "PACKAGE", "FILE", "SLICE"], rows, "    ")
    present = trace.of_kind("present")
    if present:
        lines += ["", "  " + _TITLES["present"]]
        rows = [[path.path, _tried(path), f"-> {path.resolved}" if path.resolved else ""]
                for path in present]
        lines += _rows(["PATH", "TRIED", ""], rows, "    ")
    groups = missing_by_directory(trace)
    if groups:
        lines += ["", "  " + _TITLES["missing"]]
        rows = [[group["directory"], str(group["count"]),
                 ", ".join(group["examples"]) + (", ..." if group["count"] > _EXAMPLES
                                                 else "")] for group in groups]
        lines += _rows(["DIRECTORY", "PATHS", "E.G."], rows, "    ")
    for kind in ("runtime", "created"):
        paths = trace.of_kind(kind)
        if paths:
            lines += ["", "  " + _TITLES[kind]]
            lines += _rows(["PATH", "TRIED"], [[p.path, _tried(p)] for p in paths], "    ")
    for reason, count in sorted(trace.ignored.items()):
        lines.append(f"  (left out: {count} {reason})")
    return "\n".join(lines)
