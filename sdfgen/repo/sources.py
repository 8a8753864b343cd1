"""Where the repositories are: mirror defaults, ``--repo`` URLs and dnf ``.repo`` files.

The result is, for each architecture, a list of :class:`RepoSource` with ``$basearch``
and ``$releasever`` already substituted, in the order the user gave them.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sdfgen.errors import ConfigError

DEFAULT_RELEASE = "24.03-LTS"
DEFAULT_MIRROR = "https://repo.openeuler.org/"

# The repositories an openEuler installation enables by default (ids as in openEuler.repo),
# laid out like repo.openeuler.org: {mirror}/openEuler-{release}/{path}/{basearch}/.
DEFAULT_REPOS: tuple[tuple[str, str], ...] = (
    ("OS", "OS"),
    ("everything", "everything"),
    ("EPOL", "EPOL/main"),
    ("update", "update"),
)

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class RepoSource:
    """One enabled repository for one architecture.

    ``baseurl`` is an http(s):// or file:// URL or a local directory, ending in ``/``;
    ``mirrors`` are further base URLs of the same repository (a multi-valued ``baseurl=``),
    tried in order when the first cannot be reached.
    """

    repo_id: str
    baseurl: str
    mirrors: tuple[str, ...] = ()

    @property
    def urls(self) -> tuple[str, ...]:
        """All base URLs, the preferred one first."""
        return (self.baseurl, *self.mirrors)


def basearch(arch: str) -> str:
    """dnf's ``$basearch`` for an RPM architecture (i686 -> i386, armv7hl -> arm, ...)."""
    if re.fullmatch(r"i[3-6]86|athlon|geode", arch):
        return "i386"
    if arch.startswith("armv7") or arch.startswith("armv6"):
        return "arm"
    if arch.startswith("ppc64le"):
        return "ppc64le"
    return arch


def normalize_baseurl(location: str) -> str:
    """A base URL ending in ``/``; a plain path becomes an absolute directory path."""
    location = location.strip()
    scheme = urlsplit(location).scheme.lower()
    if scheme not in ("http", "https", "file"):
        location = str(Path(location).expanduser().absolute())
    return location if location.endswith("/") else location + "/"


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` for the known dnf variables; others stay as they are."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(replace, text)


def mirror_sources(arch: str, mirror: str = DEFAULT_MIRROR,
                   release: str = DEFAULT_RELEASE) -> list[RepoSource]:
    """The default openEuler repositories OS, everything, EPOL/main and update on ``mirror``."""
    root = normalize_baseurl(mirror)
    return [
        RepoSource(repo_id, f"{root}openEuler-{release}/{path}/{basearch(arch)}/")
        for repo_id, path in DEFAULT_REPOS
    ]


def url_source(location: str, arch: str, release: str = DEFAULT_RELEASE) -> RepoSource:
    """A ``--repo URL_OR_DIR`` as a source; its id is derived from the location."""
    variables = _variables(arch, release)
    baseurl = normalize_baseurl(substitute(location, variables))
    return RepoSource(_repo_id_for(baseurl), baseurl)


def repofile_sources(path: str | Path, arch: str,
                     release: str = DEFAULT_RELEASE) -> list[RepoSource]:
    """The enabled repositories of a dnf ``.repo`` file, for ``arch``.

    Honours ``enabled=0``, multi-valued ``baseurl`` (whitespace or comma separated) and
    ``$basearch``/``$arch``/``$releasever``. Raises ConfigError naming the file and the
    problem for unreadable files, bad syntax, a section without ``baseurl`` or a bad
    ``enabled`` value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read repo file: {_reason(exc)}") from None
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigError(f"{path}: bad repo file syntax: {_one_line(exc.message)}") from None

    variables = _variables(arch, release)
    sources: list[RepoSource] = []
    for section in parser.sections():
        if section == "main":  # dnf.conf-style global options, not a repository
            continue
        options = parser[section]
        enabled = options.get("enabled", "1").strip().lower()
        if enabled not in _TRUE | _FALSE:
            raise ConfigError(
                f"{path}: [{section}] enabled={options['enabled']!r} is not 0 or 1"
            )
        if enabled in _FALSE:
            continue
        urls = [u for u in re.split(r"[\s,]+", options.get("baseurl", "")) if u]
        if not urls:
            hint = (" (mirrorlist/metalink are not supported)"
                    if "mirrorlist" in options or "metalink" in options else "")
            raise ConfigError(f"{path}: [{section}] has no baseurl{hint}")
        for url in urls:
            if not re.match(r"(?i)(https?|file)://", url) and not url.startswith("/"):
                raise ConfigError(
                    f"{path}: [{section}] baseurl {url!r} is not an http(s)://, file:// "
                    "URL or an absolute path"
                )
        resolved = [normalize_baseurl(substitute(u, variables)) for u in urls]
        sources.append(RepoSource(section, resolved[0], tuple(resolved[1:])))
    if not sources:
        raise ConfigError(f"{path}: no enabled repository in repo file")
    return sources


def resolve_sources(
    arch: str,
    *,
    release: str = DEFAULT_RELEASE,
    mirror: str | None = None,
    repos: Iterable[str] = (),
    repofiles: Iterable[str | Path] = (),
) -> list[RepoSource]:
    """The repositories for ``arch``: ``--repofile`` and ``--repo`` ones if any were given,
    otherwise the default openEuler repositories on ``mirror`` (default: repo.openeuler.org).

    Repository ids must be unique; a duplicate raises ConfigError.
    """
    repos, repofiles = list(repos), list(repofiles)
    sources: list[RepoSource] = []
    for repofile in repofiles:
        sources.extend(repofile_sources(repofile, arch, release))
    sources.extend(url_source(location, arch, release) for location in repos)
    if not repos and not repofiles:
        sources = mirror_sources(arch, mirror or DEFAULT_MIRROR, release)
    seen: dict[str, RepoSource] = {}
    for source in sources:
        if source.repo_id in seen:
            raise ConfigError(
                f"repository id {source.repo_id!r} is defined twice "
                f"({seen[source.repo_id].baseurl} and {source.baseurl})"
            )
        seen[source.repo_id] = source
    return sources


def sources_by_arch(
    arches: Sequence[str],
    *,
    release: str = DEFAULT_RELEASE,
    mirror: str | None = None,
    repos: Iterable[str] = (),
    repofiles: Iterable[str | Path] = (),
) -> dict[str, list[RepoSource]]:
    """:func:`resolve_sources` for each architecture, keyed by architecture."""
    repos, repofiles = list(repos), list(repofiles)
    return {
        arch: resolve_sources(arch, release=release, mirror=mirror, repos=repos,
                              repofiles=repofiles)
        for arch in arches
    }


def _variables(arch: str, release: str) -> dict[str, str]:
    return {"basearch": basearch(arch), "arch": arch, "releasever": release}


def _repo_id_for(baseurl: str) -> str:
    """A readable id from a location: ``127.0.0.1_8000_OS_x86_64`` for an http URL."""
    parts = urlsplit(baseurl)
    text = (parts.netloc + parts.path) if parts.scheme in ("http", "https") else parts.path
    if parts.scheme not in ("http", "https", "file"):
        text = baseurl
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")
    return slug or "repo"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _one_line(str(exc))


def _one_line(text: str) -> str:
    return " ".join(text.split())
