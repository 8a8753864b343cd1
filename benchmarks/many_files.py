"""Time ``sdfgen propose`` and ``builder build`` on one package with many small files.

    .venv/bin/python benchmarks/many_files.py [--files 50000] [--arched] [--repeat N]
                                              [--keep DIR] [--skip-build]

Builds, with real rpmbuild and createrepo_c, one package ``manyfiles`` holding N small
files in a realistic spread (a data tree of topics and sub-directories under
``/usr/share/manyfiles``, a Python package tree under ``site-packages``, message
catalogues, docs, a licence, a man page, a config file, a script, and symlinks within and
across topics). ``--arched`` builds it for x86_64 and aarch64 (data under a multiarch
``/usr/lib/<triplet>/`` tree as well) instead of once as noarch. The RPMs are cached in
``build/bench-many-files/`` (rebuilt when N or this generator changes). The repository
is served over HTTP on 127.0.0.1; a first, untimed propose fills the cache. Then, each as
a new process with a warm cache (best of ``--repeat``), it prints wall time and peak RSS of:

- ``sdfgen propose manyfiles --arch x86_64 --arch aarch64``;
- ``builder build`` of a Distrofile whose parts are every slice of that proposal, for
  linux/amd64 and linux/arm64 (``-q``, no progress lines).

``--keep DIR`` leaves the proposal, the Distrofile and the image there (the build stages
its rootfs next to the image: ``--keep /dev/shm/many`` takes the disk out of the figure,
which on a slow disk is most of the build); ``--skip-build`` times propose only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from propose import serve  # noqa: E402  (the benchmarks' shared HTTP server)

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench-many-files"
PACKAGE = "manyfiles"
# Bump when the generated tree changes, so that cached RPMs are rebuilt.
GENERATOR = 2
SDFGEN = [sys.executable, "-m", "sdfgen.cli.app"]
BUILDER = [sys.executable, "-m", "builder.cli"]
TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
LANGS = ("ca", "cs", "da", "de", "el", "eo", "es", "fi", "fr", "gl", "hu", "id", "it", "ja",
         "ko", "nb", "nl", "pl", "pt", "pt_BR", "ro", "ru", "sk", "sl", "sr", "sv", "tr",
         "uk", "vi", "zh_CN", "zh_TW")

_SPEC = """\
Name: {name}
Version: 1.0
Release: 1
Summary: {files} small files, for sdfgen's benchmark
License: MIT
URL: https://example.org/{name}
AutoReqProv: no
{buildarch}

%description
Many small files: a data tree, a Python package tree, catalogues, docs and links.

%install
cp -a {tree}/. %{{buildroot}}/

%files
%license /usr/share/licenses/{name}
%doc /usr/share/doc/{name}
%config(noreplace) /etc/{name}
/usr/bin/{name}
/usr/share/{name}
/usr/share/man/man1/{name}.1.gz
/usr/share/locale/*/LC_MESSAGES/{name}.mo
/usr/lib/python3.11/site-packages/{name}
{arch_files}
"""


@dataclass(frozen=True)
class Tree:
    """What the generator wrote: file and symlink counts."""

    files: int
    symlinks: int


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def generate_tree(root: Path, count: int, triplet: str | None, seed: int) -> Tree:
    """Write ``count`` payload files and links below ``root`` (a future buildroot).

    About 70% data files in 40 topics x 25 sub-directories, 20% Python modules in
    packages of sub-packages, 1% symlinks (half to a sibling, half across topics), a
    multiarch tree of 8% when ``triplet`` is given, and a few fixed files.
    """
    rng = random.Random(seed)
    share = root / "usr/share" / PACKAGE
    fixed = 0
    _write(root / f"usr/share/licenses/{PACKAGE}/LICENSE", "MIT License\n" * 20)
    _write(root / f"usr/share/doc/{PACKAGE}/README.md", "# manyfiles\n")
    _write(root / f"usr/share/doc/{PACKAGE}/NEWS", "1.0: first\n")
    _write(root / f"etc/{PACKAGE}/{PACKAGE}.conf", "level = 3\n")
    _write(root / f"usr/bin/{PACKAGE}", "#!/usr/bin/python3\nimport manyfiles\n")
    (root / f"usr/bin/{PACKAGE}").chmod(0o755)
    man = root / f"usr/share/man/man1/{PACKAGE}.1.gz"
    man.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gzip", "-9n"], input=b".TH MANYFILES 1\n", stdout=man.open("wb"),
                   check=True)
    for lang in LANGS:
        _write(root / f"usr/share/locale/{lang}/LC_MESSAGES/{PACKAGE}.mo", f"{lang}\n")
    fixed = 6 + len(LANGS)
    rest = max(0, count - fixed)
    links = rest // 100
    arch_files = rest * 8 // 100 if triplet else 0
    python = rest * 20 // 100
    data = rest - links - arch_files - python
    data_paths: list[str] = []
    for i in range(data):
        topic, sub = i % 40, (i // 40) % 25
        rel = f"topic-{topic:02d}/sub-{sub:02d}/item-{i:06d}.dat"
        data_paths.append(rel)
        _write(share / rel, f"{i} {rng.randrange(1 << 30):x}\n" * rng.randint(1, 6))
    site = root / "usr/lib/python3.11/site-packages" / PACKAGE
    written = 0
    for i in range(python):
        if written >= python:
            break
        group, sub = i % 30, (i // 30) % 12
        directory = site / f"group{group:02d}" / f"sub{sub:02d}"
        for init in (directory.parent / "__init__.py", directory / "__init__.py"):
            if not init.exists():
                _write(init, "")
                written += 1
        _write(directory / f"mod_{i:06d}.py", f"VALUE = {rng.randrange(1 << 30)}\n")
        written += 1
    if triplet:
        lib = root / "usr/lib" / triplet / PACKAGE
        for i in range(arch_files):
            _write(lib / f"tables-{i % 20:02d}" / f"table-{i:06d}.bin", f"{triplet} {i}\n")
    for i in range(links):
        if not data_paths:
            break
        if i % 2 == 0:
            # A sibling alias: same directory.
            rel = data_paths[rng.randrange(len(data_paths))]
            head, _, name = rel.rpartition("/")
            _link(share / head / f"alias-{i:06d}.dat", name)
        else:
            # Across topics, like tzdata's Asia/Istanbul -> ../Europe/Istanbul.
            target = data_paths[rng.randrange(len(data_paths))]
            topic = rng.randrange(40)
            _link(share / f"topic-{topic:02d}/links/link-{i:06d}.dat", f"../../{target}")
    total = sum(1 for p in root.rglob("*") if not p.is_dir())
    return Tree(total, links)


def build_rpms(count: int, arched: bool) -> list[Path]:
    """The benchmark's RPMs (built with rpmbuild, or taken from the cache)."""
    arches = ("x86_64", "aarch64") if arched else ("noarch",)
    key = hashlib.sha256(f"{GENERATOR} {count} {arches}".encode()).hexdigest()[:12]
    cached = CACHE / f"{count}-{'arched' if arched else 'noarch'}-{key}"
    rpms = [cached / f"{PACKAGE}-1.0-1.{arch}.rpm" for arch in arches]
    if all(rpm.is_file() for rpm in rpms):
        return rpms
    shutil.rmtree(cached, ignore_errors=True)
    cached.mkdir(parents=True)
    for index, arch in enumerate(arches):
        start = time.perf_counter()
        work = Path(tempfile.mkdtemp(dir=CACHE, prefix="work-"))
        try:
            tree = work / "tree"
            triplet = TRIPLETS.get(arch)
            made = generate_tree(tree, count, triplet, seed=count + index)
            spec = work / f"{PACKAGE}.spec"
            spec.write_text(_SPEC.format(
                name=PACKAGE, files=count, tree=tree,
                buildarch="BuildArch: noarch" if arch == "noarch" else "",
                arch_files=f"/usr/lib/{triplet}/{PACKAGE}" if triplet else ""))
            command = ["rpmbuild", "-bb", "--define", f"_topdir {work / 'rpmbuild'}",
                       "--define", "__os_install_post %{nil}",
                       "--define", "debug_package %{nil}",
                       "--define", "_build_id_links none",
                       "--define", "_binary_payload w19.zstdio", str(spec)]
            if arch != "noarch":
                command[2:2] = ["--target", arch]
            subprocess.run(command, check=True, capture_output=True)
            built = work / "rpmbuild" / "RPMS" / arch / rpms[index].name
            shutil.move(built, rpms[index])
            print(f"built {rpms[index].name}: {made.files} payload files and links "
                  f"({made.symlinks} symlinks), {rpms[index].stat().st_size} bytes, in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return rpms


def make_repository(directory: Path, rpms: list[Path]) -> None:
    """``directory/{x86_64,aarch64}/``, each a createrepo_c repository of its RPMs."""
    for arch in ("x86_64", "aarch64"):
        packages = directory / arch / "Packages"
        packages.mkdir(parents=True)
        for rpm in rpms:
            if rpm.name.endswith((".noarch.rpm", f".{arch}.rpm")):
                os.link(rpm, packages / rpm.name)
        subprocess.run(["createrepo_c", "-q", "--no-database", str(directory / arch)],
                       check=True, capture_output=True)


def measured(argv: list[str]) -> tuple[float, int]:
    """Run ``argv`` as a new process; (wall seconds, peak RSS in KiB). Raises when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[2:])} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace').strip()[-2000:]}")
    return seconds, usage.ru_maxrss


def best(repeat: int, argv: list[str]) -> tuple[float, int]:
    """The fastest of ``repeat`` runs and the largest peak RSS among them."""
    runs = [measured(argv) for _ in range(repeat)]
    return min(t for t, _ in runs), max(r for _, r in runs)


def distrofile_for(sdf: Path, out: Path) -> list[str]:
    """Write a Distrofile of every slice of ``sdf`` to ``out``; the parts."""
    from sdfgen.sdf.model import load_sdf

    parts = [f"{PACKAGE}_{s.name}" for s in load_sdf(sdf).slices.values()]
    out.write_text("name: manyfiles\nbase: scratch\nrelease: 24.03-LTS\n"
                   "platforms:\n  - linux/amd64\n  - linux/arm64\nparts:\n"
                   + "".join(f"  - {p}\n" for p in parts), encoding="utf-8")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--arched", action="store_true",
                        help="x86_64 and aarch64 RPMs instead of one noarch RPM")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="leave proposal, Distrofile, image here")
    parser.add_argument("--skip-build", action="store_true", help="time propose only")
    args = parser.parse_args()
    rpms = build_rpms(args.files, args.arched)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        make_repository(tmp / "repo", rpms)
        work = args.keep or tmp / "work"
        (work / "sdf").mkdir(parents=True, exist_ok=True)
        (work / "distrofiles").mkdir(parents=True, exist_ok=True)
        server, url = serve(tmp / "repo")
        try:
            base = ["--repo", url + "$basearch/", "--cache-dir", str(tmp / "cache")]
            sdf = work / "sdf" / f"{PACKAGE}.yaml"
            propose = [*SDFGEN, "propose", PACKAGE, "--arch", "x86_64", "--arch", "aarch64",
                       "-o", str(sdf), *base]
            first, _ = measured(propose)  # fills the cache: metadata and RPMs
            print(f"propose {PACKAGE} ({args.files} files, "
                  f"{'x86_64+aarch64' if args.arched else 'noarch'}), cold cache: "
                  f"{first:.1f} s", flush=True)
            seconds, rss = best(args.repeat, propose)
            print(f"propose, warm cache, new process: {seconds:.2f} s, "
                  f"peak RSS {rss / 1024:.0f} MiB (best of {args.repeat})", flush=True)
            if args.skip_build:
                return
            distrofile = work / "distrofiles" / f"{PACKAGE}.yaml"
            parts = distrofile_for(sdf, distrofile)
            build = [*BUILDER, "build", str(distrofile), "--sdf-dir", str(work / "sdf"),
                     "-o", str(work / "image"), "-q", "--source-date-epoch", "0", *base]
            seconds, rss = best(args.repeat, build)
            print(f"builder build ({len(parts)} slices, linux/amd64 + linux/arm64), warm "
                  f"cache, new process: {seconds:.2f} s, peak RSS {rss / 1024:.0f} MiB "
                  f"(best of {args.repeat}; output in {work})", flush=True)
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
