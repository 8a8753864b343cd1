"""The ``builder`` command line: ``builder build``, ``smoke``, ``trace`` and ``probe``.

Thin: parse options, call ``builder.build`` / ``builder.smokecheck`` / ``builder.trace`` /
``builder.probefix``, print. Exit codes live here and only here: 0 success, 1 a smoke
check or a probe failed, 2 the command could not do its job (bad Distrofile or SDF,
unreachable repository, corrupt RPM); every SdfgenError becomes one ``error: ...`` line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from builder.platform import Platform, parse_platform
from sdfgen.cli.options import (
    CacheOpt,
    MirrorOpt,
    ReleaseOpt,
    RepofileOpt,
    RepoOpt,
    TimeoutOpt,
)
from sdfgen.cli.runner import run_app
from sdfgen.rpm.session import RepoOptions

app = typer.Typer(
    name="builder",
    help="Build distroless images from openEuler slices and smoke-run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich's tables and markdown (see
    # sdfgen.cli.app).
    rich_markup_mode=None,
)

PlatformOpt = Annotated[
    list[str] | None,
    typer.Option("--platform", help="linux/amd64 and/or linux/arm64 (comma-separated or "
                 "repeated; default: the Distrofile's / the build's)."),
]
LOG_TAIL = 15


def _platforms(values: list[str] | None) -> tuple[Platform, ...]:
    names = [name for value in values or () for name in value.split(",") if name.strip()]
    return tuple(dict.fromkeys(parse_platform(name) for name in names))


def _mib(size: int) -> str:
    return f"{size / (1 << 20):8.2f} MiB"


@app.command()
def build(
    distrofile: Annotated[Path, typer.Argument(help="The Distrofile (YAML) to build.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory: OCI layout, "
                                      "docker/*.tar, sbom.spdx.json, build.json.")],
    tag: Annotated[str | None, typer.Option(
        "--tag", help="REPO[:TAG] of the docker archives; each platform's archive is tagged "
        "REPO:TAG-ARCH ('{arch}' in TAG says where instead). Default: "
        "localhost/sdfgen/NAME:latest, which no public image can be.")] = None,
    per_platform_layout: Annotated[bool, typer.Option(
        "--per-platform-layout", help="Also write OUT/per-platform/ARCH/, an OCI layout per "
        "platform without an image index (for syft, umoci).")] = False,
    no_rpmdb: Annotated[bool, typer.Option(
        "--no-rpmdb", help="Leave out /var/lib/rpm/rpmdb.sqlite, the rpm database that "
        "tells scanners (syft, grype, trivy) which packages the image holds.")] = False,
    sdf_dir: Annotated[Path | None, typer.Option(
        "--sdf-dir", help="Directory of SDFs (default: ../sdf from the Distrofile).")] = None,
    platform: PlatformOpt = None,
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    source_date_epoch: Annotated[int | None, typer.Option(
        "--source-date-epoch", help="Timestamp of the image (default: $SOURCE_DATE_EPOCH, "
        "else the newest RPM build time).")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines.")] = False,
) -> None:
    """Cut the Distrofile's slices from the RPMs and write the image to OUT."""
    from builder.build import build_image
    from builder.distrofile import load_distrofile

    spec = load_distrofile(distrofile)
    options = RepoOptions(release=release, mirror=mirror, repos=tuple(repo or ()),
                          repofiles=tuple(repofile or ()), cache_dir=cache_dir, timeout=timeout)

    def log(message: str) -> None:
        if not quiet:
            typer.echo(message, err=True)

    result = build_image(spec, sdf_dir=sdf_dir or spec.base_dir.parent / "sdf", out=out,
                         repo=options, platforms=_platforms(platform),
                         source_date_epoch=source_date_epoch, log=log, tag=tag,
                         per_platform_layouts=per_platform_layout, rpmdb=not no_rpmdb)
    typer.echo(f"built {spec.name} in {result.seconds:.1f} s: {result.out} "
               f"(index {result.index_digest}, SOURCE_DATE_EPOCH {result.source_date_epoch})")
    for path, repo_tag in result.docker_archives:
        typer.echo(f"  {path}: {repo_tag}")
    for arch in result.arches:
        from_rpms = sum(cut.selected_bytes for _, cut in arch.cuts)
        share = from_rpms / arch.package_bytes * 100 if arch.package_bytes else 0.0
        typer.echo(f"{arch.platform}: cut in {arch.cut_seconds:.2f} s; image "
                   f"{_mib(arch.image_bytes).strip()} (layer {_mib(arch.layer_bytes).strip()} "
                   f"gzip'd); whole packages {_mib(arch.package_bytes).strip()} "
                   f"({share:.1f}% of it kept)")
        for meta, cut in arch.cuts:
            typer.echo(f"  {meta.nevra:<52} {_mib(cut.selected_bytes)} of "
                       f"{_mib(cut.package_bytes)}")
            for ref, size in cut.slice_bytes.items():
                typer.echo(f"    {ref:<50} {_mib(size)}")
        builder_bytes = sum(e.written.size for e in arch.base_added) + sum(
            f.size for f in arch.extra_files)
        typer.echo(f"  {'builder: ' + str(len(arch.base_added)) + ' base entries, ':<34}"
                   f"{str(len(arch.extra_files)) + ' Distrofile files':<18} "
                   f"{_mib(builder_bytes)}")
        if arch.rpmdb:
            typer.echo(f"  {'builder: rpm database':<52} {_mib(sum(f.size for f in arch.rpmdb))}")
        typer.echo(f"  {'total':<52} {_mib(arch.image_bytes)} of "
                   f"{_mib(arch.package_bytes)} in whole packages")


@app.command("smoke")
def smoke_command(
    image: Annotated[Path, typer.Argument(help="An output directory of 'builder build'.")],
    command: Annotated[list[str] | None, typer.Argument(
        help="Command to run instead of the recorded checks (after --).")] = None,
    platform: PlatformOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="chroot, system or both.")] = "chroot",
    expect_exit: Annotated[int | None, typer.Option("--expect-exit")] = None,
    expect_output: Annotated[str | None, typer.Option(
        "--expect-output", help="Regex the output must contain.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per run.")] = None,
    cache_dir: Annotated[Path, typer.Option(
        "--cache-dir", help="Kernels, harnesses and apt state for system runs.")] = Path("build"),
) -> None:
    """Run the image's smoke checks (or CMD) per platform and mode; exit 1 if one fails."""
    from builder.smokecheck import plan_smoke, run_plan

    modes = ("chroot", "system") if mode == "both" else (mode,)
    plan = plan_smoke(image, platforms=_platforms(platform), modes=modes,
                      command=tuple(command or ()), expect_exit=expect_exit,
                      expect_output=expect_output, timeout=timeout)
    failed = 0
    for check, result in run_plan(plan, cache_dir=cache_dir):
        shown = " ".join(result.command)
        verdict = "PASS" if result.passed else "FAIL"
        typer.echo(f"{verdict} {str(result.platform):<14} {result.mode:<7} "
                   f"{result.seconds:6.1f} s  {shown}")
        if not result.passed:
            failed += 1
            typer.echo(f"     reason: {result.reason}")
            tail = (result.log or result.output).rstrip().splitlines()[-LOG_TAIL:]
            for line in tail:
                typer.echo(f"     | {line}")
        del check
    if failed:
        raise typer.Exit(1)


@app.command("trace")
def trace_command(
    image: Annotated[Path, typer.Argument(
        help="An output directory of 'builder build' (or a rootfs directory, with "
        "--platform).")],
    command: Annotated[list[str] | None, typer.Argument(
        help="Command to trace (after --; default: the image's entrypoint and cmd).")] = None,
    platform: PlatformOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON for tools (schema "
                                              "builder-trace, see README).")] = False,
    sdf_dir: Annotated[Path | None, typer.Option(
        "--sdf-dir", help="SDFs that say which slice holds a missing file (default: ../sdf "
        "from the image's Distrofile).")] = None,
    release: Annotated[str, typer.Option(
        "--release", help="openEuler release (default: the image's Distrofile's).")] = "",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    run_timeout: Annotated[float, typer.Option(
        "--run-timeout", help="Seconds the traced command may run.")] = 300.0,
) -> None:
    """Run CMD in the image under strace and report every path it tried: present,
    missing but shipped by a package (with the slice that holds it), missing everywhere."""
    import json

    from builder.trace import trace_build
    from builder.tracereport import render_table, trace_json

    options = RepoOptions(release=release, mirror=mirror, repos=tuple(repo or ()),
                          repofiles=tuple(repofile or ()), cache_dir=cache_dir, timeout=timeout)
    traces = trace_build(image, tuple(command or ()), platforms=_platforms(platform),
                         repo=options, sdf_dir=sdf_dir, timeout=run_timeout)
    if json_output:
        typer.echo(json.dumps(trace_json(str(image), traces), indent=2))
    else:
        typer.echo("\n\n".join(render_table(trace) for trace in traces))


@app.command("probe")
def probe_command(
    packages: Annotated[list[str] | None, typer.Argument(
        help="Packages whose slices to probe (default: every SDF of --sdf-dir).")] = None,
    sdf_dir: Annotated[Path, typer.Option(
        "--sdf-dir", help="Directory of SDFs (e.g. from 'sdfgen propose --all'); a "
        "probes.yml there adds or overrides probes.")] = Path("."),
    probes: Annotated[Path | None, typer.Option(
        "--probes", help="Probes file to use instead of SDF_DIR/probes.yml.")] = None,
    platform: PlatformOpt = None,
    trace: Annotated[bool, typer.Option(
        "--trace", help="Run every probe under strace and report the files a package "
        "ships that the image lacks, with the slice that holds them.")] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="With --trace: write the traced deps and paths into the SDFs and "
        "probe again until nothing new is missing.")] = False,
    rounds: Annotated[int, typer.Option(
        "--rounds", help="At most this many probe rounds with --fix.", min=1,
        max=20)] = 4,
    json_output: Annotated[bool, typer.Option("--json", help="JSON for tools (schema "
                                              "builder-probe, see README).")] = False,
    report_file: Annotated[Path | None, typer.Option(
        "--report", help="Also write the JSON document to this file.")] = None,
    release: ReleaseOpt = "24.03-LTS",
    mirror: MirrorOpt = None,
    repo: RepoOpt = None,
    repofile: RepofileOpt = None,
    cache_dir: CacheOpt = None,
    timeout: TimeoutOpt = 30.0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines.")] = False,
) -> None:
    """Run each program's probes in an image of only the slice that holds it, on every
    platform; exit 1 if a probe fails."""
    import json

    from builder.platform import AMD64, ARM64
    from builder.probefix import probe_sdfs
    from builder.probereport import failed_runs, probe_json, render_table
    from sdfgen.sdf.probes import load_catalog, user_probes_file

    options = RepoOptions(release=release, mirror=mirror, repos=tuple(repo or ()),
                          repofiles=tuple(repofile or ()), cache_dir=cache_dir, timeout=timeout)
    catalog = load_catalog(probes if probes is not None else user_probes_file(sdf_dir))

    def log(message: str) -> None:
        if not quiet:
            typer.echo(message, err=True)

    report = probe_sdfs(sdf_dir, tuple(packages or ()), _platforms(platform) or (AMD64, ARM64),
                        options, catalog, trace=trace or fix, fix=fix, rounds=rounds, log=log)
    document = json.dumps(probe_json(str(sdf_dir), report), indent=2) + "\n"
    if report_file is not None:
        from sdfgen.sdf.document import write_atomic

        write_atomic(report_file, document)
    typer.echo(document.rstrip("\n") if json_output else render_table(report, fix=fix))
    if failed_runs(report):
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (testable without a subprocess)."""
    return run_app(app, argv)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
