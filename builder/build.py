"""Build an image from a Distrofile: closure -> per-arch rootfs -> OCI layout, archives, SBOM.

``build_image`` is the pipeline the ``builder build`` command runs:

1. load the SDFs and resolve the Distrofile's slice closure (top-level deps included);
2. per platform, fetch each RPM of the closure and cut its slices into a rootfs
   (one payload pass per RPM, see ``builder.extract``);
3. add the base files no slice provided and the Distrofile's builder-only ``files``;
4. write the OCI layout (every platform), one docker archive per platform (each with a
   tag of its own, see ``builder.reference``), on request one OCI layout per platform,
   an SPDX SBOM, the smoke checks and a build record.

Everything is staged in ``OUT.tmp-XXXX`` next to the output and moved into place
at the end, so a failed build leaves no partial output (and an older OUT intact).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.basefiles import AddedEntry, add_base_files, base_entries
from builder.closure import SliceClosure, resolve_closure
from builder.distrofile import Distrofile
from builder.errors import BuildError
from builder.extract import PackageCut, SliceSelection, cut_package
from builder.oci import (
    ImageConfig,
    PlatformImage,
    write_docker_archive,
    write_oci_layout,
    write_platform_layout,
)
from builder.oci_read import load_platform_image
from builder.platform import Platform
from builder.reference import default_reference, platform_tag, split_reference
from builder.rootwriter import RootWriter
from builder.rpmdb import PackageHeader, read_package_header, write_rpmdb
from builder.sbom import GeneratedFile, SbomArch, rootfs_digests, sbom_document, write_json
from sdfgen.facts import PackageMeta
from sdfgen.rpm.session import RepoOptions, open_session
from sdfgen.sdf.model import SliceRef, load_sdf_dir, patterns_for

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SBOM_NAME = "sbom.spdx.json"
SMOKE_NAME = "smoke.json"
BUILD_RECORD = "build.json"
PER_PLATFORM_DIR = "per-platform"
Log = Callable[[str], None]


@dataclass(frozen=True)
class ArchBuild:
    """One platform's rootfs: the RPM cuts and what the builder added."""

    platform: Platform
    cuts: tuple[tuple[PackageMeta, PackageCut], ...]
    base_added: tuple[AddedEntry, ...]
    extra_files: tuple[GeneratedFile, ...]
    cut_seconds: float
    layer_bytes: int = 0  # compressed layer size in the OCI layout
    rpmdb: tuple[GeneratedFile, ...] = ()  # /var/lib/rpm/rpmdb.sqlite, unless --no-rpmdb

    @property
    def image_bytes(self) -> int:
        """What the rootfs's regular files weigh."""
        return (sum(cut.selected_bytes for _, cut in self.cuts)
                + sum(a.written.size for a in self.base_added)
                + sum(f.size for f in self.rpmdb)
                + sum(f.size for f in self.extra_files))

    @property
    def package_bytes(self) -> int:
        """What the whole packages would have weighed installed."""
        return sum(cut.package_bytes for _, cut in self.cuts)


@dataclass(frozen=True)
class BuildResult:
    """A finished build: where it is, its index digest and what each platform holds."""

    distrofile: Distrofile
    out: Path
    index_digest: str
    source_date_epoch: int
    closure: tuple[SliceRef, ...]
    arches: tuple[ArchBuild, ...]
    seconds: float
    docker_archives: tuple[tuple[str, str], ...] = ()  # (path in OUT, tag) per platform


def _source_date_epoch(metas: Sequence[PackageMeta], cuts: Sequence[PackageCut],
                       override: int | None) -> int:
    if override is not None:
        return override
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return int(env)
        except ValueError as exc:
            raise BuildError(f"SOURCE_DATE_EPOCH={env!r} is not a number of seconds") from exc
    times = [m.buildtime for m in metas] + [c.rpm.buildtime for c in cuts]
    return max(times, default=0)


def build_image(distrofile: Distrofile, *, sdf_dir: Path, out: Path, repo: RepoOptions,
                platforms: Sequence[Platform] = (), source_date_epoch: int | None = None,
                log: Log | None = None, tag: str | None = None,
                per_platform_layouts: bool = False, rpmdb: bool = True) -> BuildResult:
    """Build ``distrofile`` into ``out`` (OCI layout + docker archives + SBOM); return it.

    ``platforms`` overrides the Distrofile's list. ``tag`` (``REPO[:TAG]``, default
    ``localhost/sdfgen/NAME:latest``) gives each docker archive the tag
    ``REPO:TAG-ARCH``; ``per_platform_layouts`` adds ``OUT/per-platform/ARCH/``;
    ``rpmdb`` writes the rpm database of the image's packages (see ``builder.rpmdb``).
    Raises BuildError / SdfgenError subclasses with one-line messages; ``out`` is
    untouched when the build fails.
    """
    started = time.monotonic()
    reference = tag or default_reference(distrofile.name)
    split_reference(reference)  # a bad --tag fails before anything is fetched
    say = log or (lambda _message: None)
    chosen = tuple(platforms) or distrofile.platforms
    sdfs = load_sdf_dir(sdf_dir)
    closure = resolve_closure(distrofile.parts, sdfs, source=distrofile.path)
    say(f"{distrofile.path.name}: {len(closure.slices)} slices from "
        f"{len(closure.packages)} packages: {', '.join(map(str, closure.slices))}")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.tmp-"))
    except OSError as exc:
        # OUT below a regular file, or in a directory that cannot be written.
        raise BuildError(f"output {out}: cannot make or write its directory {out.parent}: "
                         f"{exc.strerror or exc}") from exc
    try:
        repo = dataclasses.replace(repo, arches=tuple(p.machine for p in chosen))
        cut_by_platform: dict[Platform, tuple[RootWriter, list[tuple[PackageMeta, PackageCut]],
                                              float]] = {}
        headers: dict[str, PackageHeader] = {}  # RPM checksum -> header, for the rpmdb
        with open_session(repo) as session:
            for platform in chosen:
                t0 = time.monotonic()
                writer = RootWriter(staging / "rootfs" / platform.machine)
                cuts = cut_arch(closure, session, platform.machine, writer, say,
                                 headers if rpmdb else None)
                cut_by_platform[platform] = (writer, cuts, time.monotonic() - t0)
        all_cuts = [pair for _, cuts, _ in cut_by_platform.values() for pair in cuts]
        epoch = _source_date_epoch([m for m, _ in all_cuts], [c for _, c in all_cuts],
                                   source_date_epoch)
        arches = []
        for platform, (writer, cuts, seconds) in cut_by_platform.items():
            added = add_base_files(writer, base_entries(distrofile.name, distrofile.release),
                                   epoch)
            for entry in added:
                say(f"{platform}: builder adds {entry.entry.path} ({entry.entry.why})")
            database = (write_rpmdb(writer, [(headers[m.checksum], c) for m, c in cuts],
                                    install_time=epoch),) if rpmdb else ()
            for item in database:
                say(f"{platform}: builder adds {item.path} (rpm database of {len(cuts)} "
                    f"packages, {item.size} bytes)")
            extra = _copy_files(distrofile, writer, platform, epoch, say)
            writer.finish()
            arches.append(ArchBuild(platform, tuple(cuts), added, extra, seconds,
                                    rpmdb=database))
        layout = staging / "image"
        config = ImageConfig(entrypoint=distrofile.entrypoint, cmd=distrofile.cmd,
                             env=_env(distrofile.env), workdir=distrofile.workdir,
                             user=distrofile.user, labels=distrofile.labels)
        digest = write_oci_layout(layout, [PlatformImage(a.platform, staging / "rootfs" /
                                                         a.platform.machine) for a in arches],
                                  source_date_epoch=epoch, config=config)
        arches = [dataclasses.replace(a, layer_bytes=_layer_bytes(layout, a.platform))
                  for a in arches]
        archives = []
        for arch in arches:
            name = f"docker/{distrofile.name}-{arch.platform.architecture}.tar"
            archives.append((name, platform_tag(reference, arch.platform)))
            write_docker_archive(layout, arch.platform, layout / name, repo_tag=archives[-1][1],
                                 source_date_epoch=epoch)
            os.chmod(layout / name, 0o644)  # staged through mkstemp, which makes it private
            if per_platform_layouts:
                write_platform_layout(layout, arch.platform, layout / PER_PLATFORM_DIR /
                                      arch.platform.architecture)
        write_json(layout / SBOM_NAME, sbom_document(
            distrofile.name,
            [SbomArch(a.platform.machine, a.cuts,
                      tuple(GeneratedFile(e.entry.path, e.written.size, e.written.sha256,
                                          e.entry.why) for e in a.base_added
                            if e.entry.content is not None) + a.rpmdb,
                      a.extra_files, rootfs_digests(staging / "rootfs" / a.platform.machine))
             for a in arches],
            created_epoch=epoch, image_digest=digest,
            image_vendor=distrofile.labels.get("org.opencontainers.image.vendor", "")))
        write_json(layout / SMOKE_NAME, {
            "image": distrofile.name,
            "platforms": [str(a.platform) for a in arches],
            "checks": [check.to_json() for check in distrofile.smoke],
        })
        result = BuildResult(distrofile, out, digest, epoch, closure.slices, tuple(arches),
                             time.monotonic() - started, tuple(archives))
        write_json(layout / BUILD_RECORD, build_record(result))
        os.chmod(layout, 0o755)  # staged through mkdtemp, which makes it private
        _swap_into_place(layout, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _env(entries: Sequence[str]) -> tuple[str, ...]:
    names = {entry.partition("=")[0] for entry in entries}
    return tuple(([DEFAULT_PATH] if "PATH" not in names else []) + list(entries))


def cut_arch(closure: SliceClosure, session: Any, arch: str, writer: RootWriter,
             say: Log, headers: dict[str, PackageHeader] | None = None
             ) -> list[tuple[PackageMeta, PackageCut]]:
    """Cut every package of ``closure`` for ``arch`` into ``writer``: the rootfs step of
    ``builder build``, also used by ``builder probe`` for its throwaway roots."""
    cuts = []
    for package in closure.packages:
        sdf = closure.sdfs[package]
        sdf_name = sdf.path.name if sdf.path is not None else f"{package}.yaml"
        selections = [SliceSelection(SliceRef(package, s.name), patterns_for(s, arch), sdf_name)
                      for s in closure.slices_of(package)]
        selections = [s for s in selections if s.rules]
        if not selections:
            continue  # deps-only slices: nothing to take from this package
        repository = session.repository(arch)
        meta = repository.latest(package)
        rpm_path = repository.download(meta)
        cut = cut_package(rpm_path, selections, writer, arch=arch)
        if headers is not None:
            headers[meta.checksum] = read_package_header(rpm_path)
        say(f"{arch}: {meta.nevra}: {len(cut.files)} entries, "
            f"{cut.selected_bytes} of {cut.package_bytes} bytes")
        cuts.append((meta, cut))
    return cuts


def _copy_files(distrofile: Distrofile, writer: RootWriter, platform: Platform, epoch: int,
                say: Log) -> tuple[GeneratedFile, ...]:
    copied = []
    for item in distrofile.files:
        source = item.source_for(distrofile.base_dir, platform.machine)
        if not source.is_file():
            raise BuildError(f"{distrofile.path}: files: {item.src} -> {source}: no such file "
                             f"for {platform}")
        written = writer.copy_in(item.dest, source, mode=item.mode, uid=item.uid, gid=item.gid,
                                 mtime=epoch, origin=f"{distrofile.path.name} files")
        say(f"{platform}: copies {source} to {item.dest} (Distrofile 'files')")
        copied.append(GeneratedFile(item.dest, written.size, written.sha256,
                                    f"copied from {item.src}"))
    return tuple(copied)


def _layer_bytes(layout: Path, platform: Platform) -> int:
    image = load_platform_image(layout, platform)
    return sum(int(layer.get("size", 0)) for layer in image.layers)


def build_record(result: BuildResult) -> dict[str, Any]:
    """The JSON record of a build (written to OUT/build.json)."""
    return {
        "name": result.distrofile.name,
        "distrofile": str(result.distrofile.path),
        "index_digest": result.index_digest,
        "source_date_epoch": result.source_date_epoch,
        "slices": [str(ref) for ref in result.closure],
        "platforms": [{
            "platform": str(a.platform),
            "layer_bytes": a.layer_bytes,
            "image_bytes": a.image_bytes,
            "package_bytes": a.package_bytes,
            "packages": [{"nevra": meta.nevra, "checksum": meta.checksum,
                          "selected_bytes": cut.selected_bytes,
                          "package_bytes": cut.package_bytes,
                          "slices": cut.slice_bytes} for meta, cut in a.cuts],
            "builder_files": [e.entry.path for e in a.base_added] + [f.path for f in a.rpmdb],
            "rpmdb_bytes": sum(f.size for f in a.rpmdb),
            "distrofile_files": [f.path for f in a.extra_files],
        } for a in result.arches],
        "docker_archives": [{"path": path, "tag": tag} for path, tag in result.docker_archives],
    }


def _swap_into_place(staged: Path, out: Path) -> None:
    """Replace ``out`` by ``staged``; refuse to replace anything but an earlier image."""
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir() or (
                not (out / "oci-layout").is_file() and any(out.iterdir())):
            raise BuildError(f"output {out}: exists and is not an image directory; "
                             "refusing to replace it")
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.old-"))
        os.replace(out, old / "image")
        os.replace(staged, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, out)


def load_smoke_record(out: Path) -> dict[str, Any]:
    """The smoke record a build left in ``out`` (empty checks if there is none)."""
    path = Path(out) / SMOKE_NAME
    if not path.is_file():
        return {"checks": [], "platforms": []}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: unreadable smoke record: {exc}") from exc
