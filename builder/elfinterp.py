"""Explain an exec failure ("No such file or directory") of a command in an image.

When a program's ELF interpreter (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2) or a
script's #! interpreter is missing, execve fails with ENOENT although the program is
there, and no loader runs to say what is missing. This module looks inside the
rootfs, resolving symlinks as the image would (relative to its own root), and says
which file is missing. Only PT_INTERP is read, with struct: the full ELF analysis
lives in sdfgen's ELF reader.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

_PT_INTERP = 3
_MAX_LINKS = 40


def walk_in_root(root: Path, path: str) -> tuple[list[str], list[str]]:
    """``path`` inside ``root`` with its symlinks resolved against ``root`` as far as it
    exists: the parts that exist (none a symlink) and the parts left (empty when the
    whole path exists; everything from a symlink loop on)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_LINKS:
                return resolved, [part, *parts]
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not os.path.lexists(candidate):
            return resolved, [part, *parts]
        resolved.append(part)
    return resolved, []


def resolve_in_root(root: Path, path: str) -> Path | None:
    """``path`` inside ``root`` with every symlink resolved against ``root``; None if absent."""
    resolved, rest = walk_in_root(root, path)
    return None if rest else root.joinpath(*resolved)


def elf_interpreter(path: Path) -> str | None:
    """The PT_INTERP path of the ELF file at ``path``, or None (static, not ELF, unreadable)."""
    try:
        with open(path, "rb") as fh:
            ident = fh.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF":
                return None
            is64, endian = ident[4] == 2, "<" if ident[5] == 1 else ">"
            if is64:
                phoff, phentsize, phnum = (struct.unpack_from(endian + "Q", ident, 32)[0],
                                           *struct.unpack_from(endian + "HH", ident, 54))
            else:
                phoff, phentsize, phnum = (struct.unpack_from(endian + "I", ident, 28)[0],
                                           *struct.unpack_from(endian + "HH", ident, 42))
            for i in range(min(phnum, 256)):
                fh.seek(phoff + i * phentsize)
                header = fh.read(phentsize)
                if len(header) < (56 if is64 else 32):
                    return None
                if struct.unpack_from(endian + "I", header, 0)[0] != _PT_INTERP:
                    continue
                if is64:
                    offset, size = struct.unpack_from(endian + "Q", header, 8)[0], \
                        struct.unpack_from(endian + "Q", header, 32)[0]
                else:
                    offset, size = struct.unpack_from(endian + "I", header, 4)[0], \
                        struct.unpack_from(endian + "I", header, 16)[0]
                fh.seek(offset)
                return fh.read(min(size, 4096)).split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    return None


def _find_program(root: Path, program: str, env: Sequence[str]) -> tuple[str, Path | None]:
    if "/" in program:
        return program, resolve_in_root(root, program)
    path_value = next((e.partition("=")[2] for e in env if e.startswith("PATH=")), "")
    for directory in path_value.split(":"):
        candidate = f"{directory.rstrip('/')}/{program}"
        found = resolve_in_root(root, candidate)
        if found is not None:
            return candidate, found
    return program, None


def explain_exec_failure(root: Path, program: str, env: Sequence[str]) -> str:
    """One line saying why ``program`` cannot be executed in ``root``, or "" if unknown."""
    name, found = _find_program(root, program, env)
    if found is None:
        return f"hint: {name} does not exist in the image"
    try:
        with open(found, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return ""
    if head.startswith(b"#!"):
        interpreter = head[2:].split(b"\n")[0].strip().split(b" ")[0].decode(errors="replace")
        kind = "script interpreter"
    else:
        interpreter = elf_interpreter(found) or ""
        kind = "ELF interpreter"
    if interpreter and resolve_in_root(root, interpreter) is None:
        return f"hint: {name} needs the {kind} {interpreter}, which is missing from the image"
    return ""
