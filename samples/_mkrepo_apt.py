"""Debian bookworm .debs for one architecture, through apt-get with a private state.

apt-get runs with its own lists, cache and an empty dpkg status under the work
directory, so it never touches the machine's apt state and can fetch arm64 packages
on an amd64 host. Its sources are generated from the machine's own apt sources
(only the bookworm suites), so no archive host name is written in the project.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _mkrepo_catalog import SampleRepoError

Runner = Callable[..., subprocess.CompletedProcess[str]]

SUITES = ("bookworm", "bookworm-updates", "bookworm-security")
# RPM architecture -> Debian architecture.
DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


@dataclass(frozen=True)
class DebFile:
    """One downloaded Debian binary package."""

    name: str
    version: str  # full Debian version, epoch included: "1:1.2.13.dfsg-1"
    arch: str  # amd64, arm64 or all
    path: Path
    sha256: str


@dataclass(frozen=True)
class AptSource:
    """One deb822 stanza of the generated private sources."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""

    def render(self) -> str:
        """The stanza in deb822 form."""
        lines = [
            "Types: deb",
            f"URIs: {' '.join(self.uris)}",
            f"Suites: {' '.join(self.suites)}",
            f"Components: {' '.join(self.components)}",
        ]
        if self.signed_by:
            lines.append(f"Signed-By: {self.signed_by}")
        return "\n".join(lines) + "\n"


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_sources(files: Mapping[str, str]) -> list[AptSource]:
    """Bookworm 'deb' entries of apt source files (name -> text), one-line or deb822 format.

    Architecture restrictions are dropped on purpose: the private state picks the
    architecture itself.
    """
    found: list[AptSource] = []
    for name, text in files.items():
        if name.endswith(".sources"):
            for stanza in _deb822_stanzas(text):
                if stanza.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in stanza.get("types", "").split():
                    continue
                suites = tuple(s for s in stanza.get("suites", "").split() if s in SUITES)
                if suites and stanza.get("uris"):
                    found.append(AptSource(
                        uris=tuple(stanza["uris"].split()),
                        suites=suites,
                        components=tuple(stanza.get("components", "main").split()),
                        # an inline key block cannot be copied as a one-line field
                        signed_by=stanza.get("signed-by", "") if "\n" not in
                        stanza.get("signed-by", "") else "",
                    ))
        else:
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
                if not match or match.group(3) not in SUITES:
                    continue
                options = dict(
                    opt.split("=", 1) for opt in (match.group(1) or "").strip("[] \t").split()
                    if "=" in opt
                )
                found.append(AptSource(
                    uris=(match.group(2),),
                    suites=(match.group(3),),
                    components=tuple(match.group(4).split("#")[0].split()),
                    signed_by=options.get("signed-by", ""),
                ))
    return found


def machine_sources() -> dict[str, str]:
    """The machine's apt source files, name -> text."""
    files: dict[str, str] = {}
    single, parts = _APT_SOURCES
    if single.is_file():
        files[str(single)] = single.read_text(encoding="utf-8", errors="replace")
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix in (".list", ".sources") and path.is_file():
                files[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return files


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class AptState:
    """apt-get for one Debian architecture with lists and cache under *root*.

    Downloaded .debs go to *pool* (shared by all architectures: arch:all debs are
    fetched once) and are reused while their SHA-256 matches the archive's index.
    """

    def __init__(self, root: Path, pool: Path, deb_arch: str, sources: Sequence[AptSource],
                 run: Runner = subprocess.run) -> None:
        self.root = root
        self.pool = pool
        self.deb_arch = deb_arch
        self.sources = tuple(sources)
        self._run = run

    def _options(self) -> list[str]:
        root = self.root
        return [
            f"-oAPT::Architecture={self.deb_arch}",
            f"-oAPT::Architectures={self.deb_arch}",
            f"-oDir::State={root}/state",
            f"-oDir::State::Lists={root}/lists",
            f"-oDir::State::status={root}/status",
            f"-oDir::Cache={root}/cache",
            f"-oDir::Etc::SourceList={root}/sources.list",
            f"-oDir::Etc::SourceParts={root}/sources.list.d",
            "-oDir::Etc::Preferences=/dev/null",
            f"-oDir::Etc::PreferencesParts={root}/preferences.d",
            "-oAcquire::Languages=none",
            # build/ is not readable by the _apt user; files stay root's anyway.
            "-oAPT::Sandbox::User=root",
        ]

    def _apt(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self._run(["apt-get", "-q", *self._options(), *args], cwd=cwd,
                         capture_output=True, text=True, check=False)

    def ensure_lists(self, refresh: bool = False) -> bool:
        """Write the private sources and run apt-get update when needed; True if it ran.

        The lists are refreshed only when asked or when the sources changed, so a warm
        build is offline and sees the same Debian versions as the previous one.
        """
        if not self.sources:
            raise SampleRepoError(
                "apt sources: no 'deb' entry for bookworm in /etc/apt/sources.list(.d)"
            )
        for sub in ("state", "lists/partial", "cache/archives/partial", "sources.list.d",
                    "preferences.d"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "status").touch()
        (self.root / "sources.list").write_text("", encoding="utf-8")
        text = "\n".join(source.render() for source in self.sources)
        sources_file = self.root / "sources.list.d" / "bookworm.sources"
        unchanged = sources_file.is_file() and sources_file.read_text(encoding="utf-8") == text
        has_lists = any(self.root.joinpath("lists").glob("*_Packages*"))
        if unchanged and has_lists and not refresh:
            return False
        sources_file.write_text(text, encoding="utf-8")
        result = self._apt("update")
        if result.returncode != 0 or "\nW: Failed to fetch" in "\n" + result.stderr:
            raise SampleRepoError(
                f"apt-get update ({self.deb_arch}) failed: {_last_error(result.stderr)}"
            )
        return True

    def available(self) -> str:
        """The candidate record of every package in the private lists, as deb822 text
        (``apt-cache dumpavail``); for callers that choose packages by their fields."""
        result = self._run(["apt-cache", "-q", *self._options(), "dumpavail"],
                           capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SampleRepoError(
                f"apt-cache dumpavail ({self.deb_arch}) failed: {_last_error(result.stderr)}"
            )
        return result.stdout

    def fetch(self, names: Sequence[str]) -> dict[str, DebFile]:
        """Download (or reuse from the pool) the candidate .deb of each name."""
        self.pool.mkdir(parents=True, exist_ok=True)
        # apt-get prints nothing for a file already in its working directory, so ask
        # from an empty one and compare checksums against the pool ourselves.
        probe = self.root / "probe"
        shutil.rmtree(probe, ignore_errors=True)
        probe.mkdir(parents=True)
        result = self._apt("download", "--print-uris", *names, cwd=probe)
        if result.returncode != 0:
            raise SampleRepoError(
                f"debs ({self.deb_arch}): {_last_error(result.stderr)}"
            )
        wanted: dict[str, DebFile] = {}
        for line in result.stdout.splitlines():
            match = re.match(r"^'([^']+)' (\S+) (\d+) SHA256:([0-9a-f]{64})$", line.strip())
            if not match:
                continue
            filename = match.group(2)
            name, version, arch = filename[: -len(".deb")].split("_")
            wanted[name] = DebFile(
                name=name, version=urllib.parse.unquote(version), arch=arch,
                path=self.pool / filename, sha256=match.group(4),
            )
        missing = [n for n in names if n not in wanted]
        if missing:
            raise SampleRepoError(
                f"debs ({self.deb_arch}): apt-get printed no download for {', '.join(missing)}"
            )
        stale = [d for d in wanted.values()
                 if not d.path.is_file() or sha256_file(d.path) != d.sha256]
        if stale:
            result = self._apt("download", *(f"{d.name}={d.version}" for d in stale),
                               cwd=self.pool)
            if result.returncode != 0:
                raise SampleRepoError(
                    f"apt-get download ({self.deb_arch}) failed: {_last_error(result.stderr)}"
                )
            for deb in stale:
                if not deb.path.is_file() or sha256_file(deb.path) != deb.sha256:
                    raise SampleRepoError(
                        f"{deb.path.name}: downloaded file does not match the archive's SHA-256"
                    )
        return wanted


def _last_error(stderr: str) -> str:
    """apt's first 'E:' line (or its last line), for a one-line message."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or ["no output"])[0]
