"""Every sample Distrofile: openEuler splitter's cut (modelled) equals the builder's.

The builder's side comes from the builder's own closure (``resolve_closure``: slice and
top-level deps) and per-arch patterns; splitter's from ``sdfgen.sdf.splitter``. Both
read the real file lists of the sample repository's RPMs, on x86_64 and aarch64, for
the hand-written SDFs (samples/sdf) and for what ``sdfgen propose --all`` writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.closure import resolve_closure
from builder.distrofile import load_distrofile
from sdfgen.cli.app import main as sdfgen_main
from sdfgen.facts import FileKind
from sdfgen.rpm.session import RepoOptions, Session, open_session
from sdfgen.sdf.model import load_sdf_dir, patterns_for
from sdfgen.sdf.splitter import Cut, compare, splitter_cut

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
HAND_WRITTEN = sorted((SAMPLES / "distrofiles").glob("*.yaml"))
PROPOSED = sorted((SAMPLES / "distrofiles" / "proposed").glob("*.yaml"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("splitter-cache")


@pytest.fixture(scope="module")
def proposed(sample_mirror: str, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proposed")
    assert sdfgen_main(["propose", "--all", "--mirror", sample_mirror, "--cache-dir",
                        str(cache), "-o", str(out)]) == 0
    return out


def _builder_cut(distrofile: Path, sdf_dir: Path, arch: str,
                 files: dict[str, list[str]]) -> Cut:
    spec = load_distrofile(distrofile)
    closure = resolve_closure(spec.parts, load_sdf_dir(sdf_dir), source=distrofile)
    cut = {}
    for package in closure.packages:
        paths = files[package]
        cut[package] = frozenset(
            p for s in closure.slices_of(package) for rule in patterns_for(s, arch)
            for p in paths if _matches(rule.pattern, p))
    return Cut(cut)


def _matches(pattern: str, path: str) -> bool:
    from sdfgen.sdf.globs import matches

    return matches(pattern, path)


def _files(session: Session, arch: str, packages: set[str]) -> dict[str, list[str]]:
    result = {}
    for package in packages:
        rpm = session.read(arch, session.repository(arch).latest(package))
        result[package] = [f.path for f in rpm.files if f.kind is not FileKind.DIR]
    return result


def _assert_same(distrofile: Path, sdf_dir: Path, mirror: str, cache: Path) -> None:
    spec = load_distrofile(distrofile)
    sdfs = load_sdf_dir(sdf_dir)
    packages = set(resolve_closure(spec.parts, sdfs, source=distrofile).packages)
    with open_session(RepoOptions(mirror=mirror, cache_dir=cache)) as session:
        for arch in session.arches:
            files = _files(session, arch, packages)
            differences = compare(splitter_cut(sdfs, spec.parts, files),
                                  _builder_cut(distrofile, sdf_dir, arch, files))
            assert not differences, (arch, [
                (d.package, sorted(d.only_splitter)[:3], sorted(d.only_builder)[:3], d.whole)
                for d in differences])


@pytest.mark.slow
@pytest.mark.parametrize("distrofile", HAND_WRITTEN, ids=lambda p: p.stem)
def test_hand_written_sdfs_cut_alike(distrofile: Path, sample_mirror: str, cache: Path) -> None:
    _assert_same(distrofile, SAMPLES / "sdf", sample_mirror, cache)


@pytest.mark.slow
@pytest.mark.parametrize("distrofile", PROPOSED, ids=lambda p: p.stem)
def test_proposed_sdfs_cut_alike(distrofile: Path, proposed: Path, sample_mirror: str,
                                 cache: Path) -> None:
    _assert_same(distrofile, proposed, sample_mirror, cache)


def test_the_samples_are_all_covered() -> None:
    assert {p.stem for p in HAND_WRITTEN} >= {"static", "base", "cc", "openssl", "python"}
    assert {p.stem for p in PROPOSED} >= {"base", "cc", "openssl", "python"}
