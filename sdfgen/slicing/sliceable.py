"""What a slice can carry: the one predicate ``propose``, ``check`` and the builder share.

The builder writes a payload entry into an image only when its path is absolute with no
empty, ``.`` or ``..`` component and is UTF-8 (an SDF could name it no other way), it is
a directory, regular file, hard link or symlink (a device node, fifo or socket is
refused: slices never carry them, and an image layer built without privileges could not
hold a device anyway), and, for a symlink, its relative target does not climb above the
root. ``propose`` leaves every other entry out of its slices with the reason, ``sdfgen
check`` flags a slice that selects one, and the builder refuses it: one function, so the
three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdfgen.facts import FileKind, PackageFile

# Stable codes (also the finding ids of ``sdfgen check``, see checks/README.md).
UNSAFE_PATH = "unsafe-path"
SPECIAL_FILE = "special-file"
ESCAPING_SYMLINK = "escaping-symlink"


@dataclass(frozen=True)
class Refusal:
    """Why a payload entry can be in no slice: a stable ``code`` and a one-line reason."""

    code: str
    reason: str


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an image path, as a noun phrase ("not absolute", "an empty,
    '.' or '..' component"), or None when it can: it must be absolute, with no empty,
    ``.`` or ``..`` component, no NUL byte and no byte that is not UTF-8 (an SDF is UTF-8
    text, so it could name no such path; the RPM reader decodes names with
    surrogateescape, which keeps such bytes as lone surrogates)."""
    if not path.startswith("/"):
        return "not absolute"
    if "\0" in path:
        return "a NUL byte"
    if not path.isascii() and not _is_utf8(path):
        return "a byte that is not UTF-8"
    if path != "/" and any(part in ("", ".", "..") for part in path[1:].split("/")):
        return "an empty, '.' or '..' component"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_utf8(text: str) -> str:
    """``text`` with each byte that was not UTF-8 (a surrogate escape) shown as ``\\xNN``,
    so that a refused name can be written in an SDF comment or a message."""
    if text.isascii() or _is_utf8(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that escapes no byte: show its code point
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def symlink_escapes(path: str, target: str) -> bool:
    """Whether a relative symlink at ``path`` climbs above the root with ``..``.

    Absolute targets are resolved against the image root by whoever follows them
    (chroot, container runtime), so only relative ones can point outside.
    """
    if target.startswith("/"):
        return False
    depth = len([part for part in path.split("/") if part]) - 1  # the link's directory
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def refusal(entry: PackageFile) -> Refusal | None:
    """Why the builder refuses ``entry`` (so no slice may select it), or None.

    The reason reads after "PATH is": "an unsafe path (not absolute)". Ghost entries
    count too: the builder writes no ghost, but an SDF naming an unsafe path is wrong
    whatever the entry's flags.
    """
    problem = path_problem(entry.path)
    if problem is not None:
        return Refusal(UNSAFE_PATH, f"an unsafe path ({problem})")
    if entry.kind is FileKind.OTHER:
        return Refusal(SPECIAL_FILE, "a device node, fifo or socket (slices cannot carry one)")
    if entry.kind is FileKind.SYMLINK:
        target = entry.link_target or ""
        if not target or "\0" in target:
            return Refusal(ESCAPING_SYMLINK, "a symlink with an empty or invalid target")
        if symlink_escapes(entry.path, target):
            return Refusal(ESCAPING_SYMLINK, f"a symlink to {target}, above the image root")
    return None
