"""Terminal presentation with rich: download progress and the ``inspect`` report.

Parsing and analysis never print; they return data that this module shows.
"""

from __future__ import annotations

import posixpath
import stat
from collections import defaultdict
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from sdfgen.facts import FileKind, PackageFile
from sdfgen.rpm.inspect import ArchReport


class DownloadProgress:
    """A fetch progress callback drawing one rich bar per file while it downloads."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold blue]{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), console=console, transient=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self._started = False

    def __call__(self, url: str, done: int, total: int | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        task = self._tasks.get(url)
        if task is None:
            name = posixpath.basename(urlsplit(url).path) or url
            task = self._tasks[url] = self._progress.add_task(name, total=total)
        self._progress.update(task, completed=done, total=total)
        if total is not None and done >= total:
            self._progress.remove_task(task)
            del self._tasks[url]
            if not self._tasks:
                self._progress.stop()
                self._started = False


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{size}B"


def _kind_cell(entry: PackageFile) -> Text:
    if entry.kind is FileKind.SYMLINK:
        return Text(f"-> {entry.link_target}", style="cyan")
    if entry.kind is FileKind.HARDLINK:
        return Text(f"= {entry.link_target}", style="cyan")
    return Text(entry.kind.value)


def _elf_cell(entry: PackageFile) -> Text:
    elf = entry.elf
    if elf is None:
        if entry.shebang:
            return Text(f"script #!{entry.shebang}", style="magenta")
        return Text("")
    if elf.error:
        return Text(elf.error, style="red")
    parts = [f"ELF{elf.elf_class} {elf.machine.removeprefix('EM_')} {elf.elf_type}"]
    if elf.soname:
        parts.append(f"SONAME {elf.soname}")
    if elf.is_static:
        parts.append("static")
    if elf.runpath:
        parts.append("RUNPATH " + ":".join(elf.runpath))
    elif elf.rpath:
        parts.append("RPATH " + ":".join(elf.rpath))
    if elf.needed:
        parts.append(f"NEEDED {len(elf.needed)}")
    return Text(", ".join(parts), style="green")


def render_inspect(reports: list[ArchReport], console: Console) -> None:
    """Print each arch's report: files grouped by directory, then NEEDED providers."""
    for report in reports:
        console.rule(f"[bold]{report.nevra}[/]  ({report.arch}, from {report.repo_id})")
        console.print(f"License: {report.license}    Summary: {report.summary}")
        by_dir: dict[str, list[PackageFile]] = defaultdict(list)
        for entry in report.files:
            if entry.kind is not FileKind.DIR:
                by_dir[posixpath.dirname(entry.path)].append(entry)
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("name", "kind", "mode", "size", "flags", "ELF / script"):
            table.add_column(column, no_wrap=column in ("mode", "size"))
        for directory in sorted(by_dir):
            table.add_row(Text(directory + "/", style="bold yellow"))
            for entry in sorted(by_dir[directory], key=lambda e: e.path):
                table.add_row(
                    "  " + posixpath.basename(entry.path),
                    _kind_cell(entry),
                    stat.filemode(_st_mode(entry))[1:],
                    _human(entry.size) if entry.kind is FileKind.FILE else "",
                    ",".join(sorted(flag.value for flag in entry.flags)),
                    _elf_cell(entry),
                )
        console.print(table)
        if report.needed:
            needed = Table(title="NEEDED", title_justify="left", box=None, header_style="bold")
            for column in ("file", "needs", "provided by"):
                needed.add_column(column)
            for resolution in report.needed:
                provider = (
                    Text(f"{resolution.package}  ({resolution.path})", style="green")
                    if resolution.package else Text(f"unresolved: {resolution.reason}",
                                                     style="bold red")
                )
                needs = resolution.soname + (" (interpreter)" if resolution.interpreter else "")
                needed.add_row(resolution.needed_by, needs, provider)
            console.print(needed)
        for problem in report.problems:
            console.print(Text(f"payload problem: {problem.entry}: {problem.problem}",
                               style="bold red"))
        console.print()


def _st_mode(entry: PackageFile) -> int:
    kind_bits = {
        FileKind.DIR: stat.S_IFDIR, FileKind.SYMLINK: stat.S_IFLNK,
    }.get(entry.kind, stat.S_IFREG)
    return kind_bits | entry.mode
