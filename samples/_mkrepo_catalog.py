"""The sample repository's catalog: samples/packages.yaml read into frozen dataclasses.

Each entry maps one openEuler package name to the Debian bookworm binary packages
whose files it carries; validation happens here so the build never starts on a
catalog it would fail on half-way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from sdfgen.errors import SdfgenError


class SampleRepoError(SdfgenError):
    """A failure while building the sample repository (catalog, download, rpmbuild)."""


# rpm's package names: what openEuler uses (letters, digits, '+', '-', '_', '.').
_RPM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")
# Debian policy 5.6.1: lower case letters, digits, '+', '-', '.'; two chars at least.
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_KEYS = {"summary", "license", "debs", "license_from", "drop", "symlinks", "requires_exclude",
         "provides", "concat"}


@dataclass(frozen=True)
class PackageSpec:
    """One openEuler package of the sample repository and the debs it is made of."""

    name: str
    summary: str
    license: str
    debs: tuple[str, ...]  # the first one gives Version/Release/Epoch
    license_from: tuple[str, ...] = ()  # debs contributing only their copyright file
    drop: tuple[str, ...] = ()  # absolute paths left out of the RPM
    symlinks: tuple[tuple[str, str], ...] = ()  # (path, target) added to the RPM
    requires_exclude: tuple[str, ...] = ()  # regexes for %__requires_exclude
    provides: tuple[str, ...] = ()  # explicit Provides: next to rpmbuild's automatic ones
    concat: tuple[tuple[str, str], ...] = ()  # (path, glob): file made of the glob's files

    def all_debs(self) -> tuple[str, ...]:
        """Every Debian package this entry needs downloaded, in catalog order."""
        return self.debs + self.license_from


@dataclass(frozen=True)
class Catalog:
    """The whole catalog: packages, the release tag and the update/ repository's rebuilds."""

    release_tag: str  # appended to every Release, e.g. "oe2403"
    packages: tuple[PackageSpec, ...]
    updates: tuple[tuple[str, str], ...]  # (package name, extra release suffix)

    def package(self, name: str) -> PackageSpec:
        """The entry called *name*; raises SampleRepoError when there is none."""
        for spec in self.packages:
            if spec.name == name:
                return spec
        raise SampleRepoError(f"catalog: no package named {name!r}")


def _str_list(where: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SampleRepoError(f"{where}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def _package(path: Path, name: object, entry: object) -> PackageSpec:
    where = f"{path}: package {name!r}"
    if not isinstance(name, str) or not _RPM_NAME.match(name):
        raise SampleRepoError(f"{where}: not a valid RPM package name")
    if not isinstance(entry, dict):
        raise SampleRepoError(f"{where}: entry must be a mapping")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SampleRepoError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    for key in ("summary", "license"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise SampleRepoError(f"{where}: {key!r} is missing or empty")
    debs = _str_list(where, "debs", entry.get("debs"))
    if not debs:
        raise SampleRepoError(f"{where}: 'debs' is empty")
    license_from = _str_list(where, "license_from", entry.get("license_from", []))
    for deb in debs + license_from:
        if not _DEB_NAME.match(deb):
            raise SampleRepoError(f"{where}: {deb!r} is not a Debian package name")
    drop = _str_list(where, "drop", entry.get("drop", []))
    symlinks_raw = entry.get("symlinks", {})
    if not isinstance(symlinks_raw, dict):
        raise SampleRepoError(f"{where}: 'symlinks' must be a mapping path -> target")
    symlinks = tuple(sorted((str(k), str(v)) for k, v in symlinks_raw.items()))
    concat_raw = entry.get("concat", {})
    if not isinstance(concat_raw, dict):
        raise SampleRepoError(f"{where}: 'concat' must be a mapping path -> glob")
    concat = tuple(sorted((str(k), str(v)) for k, v in concat_raw.items()))
    for abs_path in drop + tuple(p for p, _ in symlinks + concat):
        if not abs_path.startswith("/") or "/../" in abs_path + "/":
            raise SampleRepoError(f"{where}: {abs_path!r} is not a normalised absolute path")
    excludes = _str_list(where, "requires_exclude", entry.get("requires_exclude", []))
    for pattern in excludes:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SampleRepoError(
                f"{where}: bad requires_exclude regex {pattern!r}: {exc}"
            ) from exc
    provides = _str_list(where, "provides", entry.get("provides", []))
    return PackageSpec(
        name=name,
        summary=" ".join(entry["summary"].split()),
        license=" ".join(entry["license"].split()),
        debs=debs,
        license_from=license_from,
        drop=drop,
        symlinks=symlinks,
        requires_exclude=excludes,
        provides=provides,
        concat=concat,
    )


def load_catalog(path: Path) -> Catalog:
    """Read and validate the catalog file; raises SampleRepoError naming the entry at fault."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SampleRepoError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SampleRepoError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), dict):
        raise SampleRepoError(f"{path}: expected a mapping with a 'packages' mapping")
    tag = doc.get("release_tag")
    if not isinstance(tag, str) or not re.match(r"^[A-Za-z0-9._+~]+$", tag):
        raise SampleRepoError(f"{path}: 'release_tag' must be a string like 'oe2403'")
    packages = tuple(_package(path, n, e) for n, e in doc["packages"].items())
    owners: dict[str, str] = {}
    for spec in packages:
        for deb in spec.debs:
            if deb in owners:
                raise SampleRepoError(
                    f"{path}: deb {deb!r} is in both {owners[deb]!r} and {spec.name!r}"
                )
            owners[deb] = spec.name
    updates_raw = doc.get("update", {}) or {}
    if not isinstance(updates_raw, dict):
        raise SampleRepoError(f"{path}: 'update' must be a mapping package -> release suffix")
    names = {spec.name for spec in packages}
    updates = []
    for name, suffix in updates_raw.items():
        if name not in names:
            raise SampleRepoError(f"{path}: update names {name!r}, which is not a package")
        if not re.match(r"^[A-Za-z0-9._+~]+$", str(suffix)):
            raise SampleRepoError(f"{path}: update suffix {suffix!r} of {name!r} is not valid")
        updates.append((str(name), str(suffix)))
    return Catalog(release_tag=tag, packages=packages, updates=tuple(updates))
