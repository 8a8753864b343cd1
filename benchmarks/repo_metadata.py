"""Benchmark: repository metadata parse/index (cold) and lookups (warm) at scale.

Generates a synthetic repository of N packages (repomd.xml + primary.xml.zst with
realistic provides/requires/files, written directly as XML, no RPMs), then runs each
phase in a fresh process and prints its time and peak RSS:

  cold: new cache, Repository(...) parses primary and builds the sqlite index
  warm: new Repository over the same cache (loads the index), then latest() of 100
        names and whatprovides() of 100 sonames

Targets: cold <= 5 s, warm <= 0.2 s.  Usage:
  python benchmarks/repo_metadata.py [--packages 40000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import zstandard

WORDS = ("alpha beta gamma delta core utils common tools libs devel data python3 perl "
         "ruby lua java go rust qt gtk x11 net ssl crypto xml json yaml http dbus glib "
         "systemd audit pam nss zlib bz2 xz lz4 zstd curl git vim emacs gcc llvm").split()
DESCRIPTION = ("This package provides the runtime libraries, command line tools and data "
               "files needed by applications that use it. It is part of the openEuler "
               "distribution and is built from the upstream sources with the distribution's "
               "patches applied for security, stability and compatibility. ")


def package_name(index: int) -> str:
    """Deterministic, varied package names: 'gtk-crypto-123', 'python3-xml-77'..."""
    rng = random.Random(index)
    return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{index}"


def soname(index: int) -> str:
    return f"lib{package_name(index).replace('-', '_')}.so.{index % 7}()(64bit)"


def package_xml(index: int, count: int) -> str:
    """One <package> of primary.xml with ~8 provides, ~14 requires and ~4 files."""
    rng = random.Random(index * 7919)
    name = package_name(index)
    arch = "noarch" if index % 5 == 0 else "x86_64"
    version, release = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}", \
        f"{rng.randint(1, 20)}.oe2403"
    evr = f'epoch="0" ver="{version}" rel="{release}"'
    checksum = hashlib.sha256(name.encode()).hexdigest()
    provides = [f'<rpm:entry name="{name}" flags="EQ" {evr}/>',
                f'<rpm:entry name="{name}(x86-64)" flags="EQ" {evr}/>',
                f'<rpm:entry name="{soname(index)}"/>',
                f'<rpm:entry name="{soname(index)[:-7]}(V_{index % 3}.0)(64bit)"/>',
                f'<rpm:entry name="pkgconfig({name})" flags="EQ" epoch="0" ver="{version}"/>',
                f'<rpm:entry name="config({name})" flags="EQ" {evr}/>']
    provides += [f'<rpm:entry name="{name}-compat{i}"/>' for i in range(rng.randint(0, 4))]
    requires = ['<rpm:entry name="libc.so.6()(64bit)"/>',
                '<rpm:entry name="rtld(GNU_HASH)"/>',
                '<rpm:entry name="/bin/sh" pre="1"/>']
    requires += [f'<rpm:entry name="libc.so.6(GLIBC_2.{v})(64bit)"/>'
                 for v in rng.sample(range(2, 39), 4)]
    for dep in rng.sample(range(count), 5):
        requires.append(f'<rpm:entry name="{soname(dep)}"/>')
    requires += [f'<rpm:entry name="{package_name(dep)}" flags="GE" epoch="0" ver="1.0"/>'
                 for dep in rng.sample(range(count), 2)]
    files = [f"/usr/bin/{name}", f"/etc/{name}/{name}.conf", f"/usr/sbin/{name}d"]
    files += [f"/usr/libexec/{name}/bin/helper{i}" for i in range(rng.randint(0, 3))]
    file_xml = "".join(f"\n    <file>{escape(f)}</file>" for f in files)
    return f"""<package type="rpm">
  <name>{name}</name>
  <arch>{arch}</arch>
  <version {evr}/>
  <checksum type="sha256" pkgid="YES">{checksum}</checksum>
  <summary>{escape(name)} runtime and tools</summary>
  <description>{escape(DESCRIPTION * 2)}</description>
  <packager>http://openeuler.org</packager>
  <url>https://example.org/{name}</url>
  <time file="1700000000" build="{1690000000 + index}"/>
  <size package="{rng.randint(10_000, 9_000_000)}" installed="{rng.randint(1, 4 * 10**7)}"
    archive="1"/>
  <location href={quoteattr(f"Packages/{name}-{version}-{release}.{arch}.rpm")}/>
  <format>
    <rpm:license>MIT and GPLv2+</rpm:license>
    <rpm:vendor>openEuler</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>obs-worker-{index % 50}</rpm:buildhost>
    <rpm:sourcerpm>{name}-{version}-{release}.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="{20000 + index}"/>
    <rpm:provides>
      {"".join(provides)}
    </rpm:provides>
    <rpm:requires>
      {"".join(requires)}
    </rpm:requires>{file_xml}
  </format>
</package>
"""


def generate(repo: Path, count: int) -> int:
    """Write repodata/{repomd.xml, primary.xml.zst}; returns the uncompressed size."""
    repodata = repo / "repodata"
    repodata.mkdir(parents=True, exist_ok=True)
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/'
            'metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" '
            f'packages="{count}">\n')
    open_hash, size = hashlib.sha256(), 0
    temp = repodata / "primary.tmp"
    with temp.open("wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as out:
        parts = itertools.chain([head], (package_xml(i, count) for i in range(count)),
                                ["</metadata>\n"])
        for part in parts:
            data = part.encode()
            open_hash.update(data)
            size += len(data)
            out.write(data)
    digest = hashlib.sha256(temp.read_bytes()).hexdigest()
    primary = repodata / f"{digest}-primary.xml.zst"
    temp.replace(primary)
    (repodata / "repomd.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="primary">
    <checksum type="sha256">{digest}</checksum>
    <open-checksum type="sha256">{open_hash.hexdigest()}</open-checksum>
    <location href="repodata/{primary.name}"/>
    <timestamp>1700000000</timestamp>
    <size>{primary.stat().st_size}</size>
    <open-size>{size}</open-size>
  </data>
</repomd>
""")
    return size


def run_phase(phase: str, repo: Path, cache: Path, count: int) -> dict[str, float]:
    """One phase, timed, in this process (called in a fresh subprocess)."""
    from sdfgen.repo.index import Repository
    from sdfgen.repo.sources import RepoSource

    sources = [RepoSource("bench", str(repo) + "/")]
    start = time.perf_counter()
    repository = Repository(sources, "x86_64", cache_dir=cache)
    opened = time.perf_counter() - start
    figures = {"open_s": opened}
    if phase == "warm":
        rng = random.Random(1)
        picks = [i for i in rng.sample(range(count), 400) if i % 5][:100]
        start = time.perf_counter()
        for i in picks:
            assert repository.latest(package_name(i)).name == package_name(i)
        for i in picks:
            assert repository.whatprovides(soname(i))
        figures["lookups_s"] = time.perf_counter() - start
        figures["total_s"] = opened + figures["lookups_s"]
    repository.close()
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=40_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--phase", choices=("cold", "warm"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        repo, cache = args.workdir / "repo", args.workdir / "cache"
        print(json.dumps(run_phase(args.phase, repo, cache, args.packages)))
        return

    with tempfile.TemporaryDirectory(prefix="sdfgen-bench-") as temp:
        workdir = args.workdir or Path(temp)
        start = time.perf_counter()
        size = generate(workdir / "repo", args.packages)
        primary = next((workdir / "repo" / "repodata").glob("*-primary.xml.zst"))
        print(f"generated {args.packages} packages: primary.xml {size / 2**20:.1f} MiB, "
              f".zst {primary.stat().st_size / 2**20:.1f} MiB "
              f"({time.perf_counter() - start:.1f} s)")
        for phase in ("cold", "warm"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--workdir", str(workdir),
                 "--packages", str(args.packages)],
                check=True, capture_output=True, text=True,
            ).stdout
            figures = json.loads(out)
            if phase == "cold":
                print(f"cold parse + index: {figures['open_s']:.2f} s (target <= 5 s), "
                      f"peak RSS {figures['peak_rss_mib']:.0f} MiB")
            else:
                print(f"warm open: {figures['open_s'] * 1000:.1f} ms, 100 latest() + 100 "
                      f"whatprovides(): {figures['lookups_s'] * 1000:.1f} ms, total "
                      f"{figures['total_s'] * 1000:.1f} ms (target <= 200 ms), "
                      f"peak RSS {figures['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
