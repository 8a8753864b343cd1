"""Fixtures for sdfgen tests.

repo_*: real RPMs built with rpmbuild, real repositories made with createrepo_c, served
by a real HTTP server on 127.0.0.1 (for the repository reader's tests).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from sdfgen.roles.corpus import CorpusPackage, LabeledFile, write_labels

REPO_RELEASE = "24.03-LTS"
_REPO_NS = "http://linux.duke.edu/metadata/repo"

_SPEC = """\
Name: {name}
Version: {version}
Release: {release}
{epoch_line}
Summary: {name} test package
License: MIT
URL: https://example.org/{name}
AutoReqProv: no
{extra}
%description
A tiny package built by the sdfgen tests.

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name}-{version} > %{{buildroot}}/usr/share/{name}/README
{install}

%files
/usr/share/{name}/README
{files}
"""


@dataclass(frozen=True)
class RepoRpm:
    """A package spec the tests build: file name pattern, arch and spec fields."""

    name: str
    version: str
    arch: str = "x86_64"  # x86_64, aarch64, noarch or src
    epoch: int | None = None
    release: str = "1"
    extra: str = ""  # Provides:, Requires: lines
    install: str = ""
    files: str = ""


LIBFOO_INSTALL = """\
mkdir -p %{buildroot}/usr/lib64 %{buildroot}/usr/bin %{buildroot}/etc
echo lib > %{buildroot}/usr/lib64/libfoo.so.1
echo bin > %{buildroot}/usr/bin/foo
echo conf > %{buildroot}/etc/foo.conf
"""
LIBFOO_FILES = "/usr/lib64/libfoo.so.1\n/usr/bin/foo\n%config(noreplace) /etc/foo.conf"
LIBFOO_EXTRA = ("Provides: libfoo.so.1()(64bit)\nRequires: /bin/sh\n"
                "Requires: libc.so.6(GLIBC_2.34)(64bit)\nRequires: foo-data >= 1.0")


def libfoo(version: str, arch: str = "x86_64") -> RepoRpm:
    """The main test package: a soname Provides, a file in primary, a file only in filelists."""
    return RepoRpm("libfoo", version, arch, extra=LIBFOO_EXTRA, install=LIBFOO_INSTALL,
                   files=LIBFOO_FILES)


def repo_build_rpm(spec: RepoRpm, workdir: Path) -> Path:
    """Build ``spec`` with rpmbuild (binary or source) and return the RPM's path."""
    top = workdir / "rpmbuild"
    spec_path = workdir / f"{spec.name}-{spec.version}-{spec.arch}.spec"
    spec_path.write_text(_SPEC.format(
        name=spec.name, version=spec.version, release=spec.release,
        epoch_line=f"Epoch: {spec.epoch}" if spec.epoch is not None else "",
        extra=spec.extra + ("\nBuildArch: noarch" if spec.arch == "noarch" else ""),
        install=spec.install, files=spec.files,
    ))
    mode = "-bs" if spec.arch == "src" else "-bb"
    command = ["rpmbuild", mode, "--define", f"_topdir {top}",
               "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
               "--define", "_binary_payload w9.gzdio", str(spec_path)]
    if spec.arch not in ("src", "noarch"):
        command[2:2] = ["--target", spec.arch]
    subprocess.run(command, check=True, capture_output=True)
    subdir = "SRPMS" if spec.arch == "src" else f"RPMS/{spec.arch}"
    evr = f"{spec.version}-{spec.release}"
    return top / subdir / f"{spec.name}-{evr}.{spec.arch}.rpm"


def repo_createrepo(repo: Path, compress: str = "gz") -> Path:
    """Run createrepo_c on ``repo``; zst and none (which Debian's createrepo_c lacks) are
    made by recompressing its gz output and rewriting repomd.xml. Returns ``repo``."""
    repo.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(repo / "repodata", ignore_errors=True)
    native = compress if compress in ("gz", "xz", "bz2") else "gz"
    subprocess.run(["createrepo_c", "-q", "--no-database", "--general-compress-type", native,
                    str(repo)], check=True, capture_output=True)
    if compress in ("zst", "none"):
        for data_type in ("primary", "filelists", "other"):
            repo_rewrite_metadata(repo, data_type, lambda raw: raw, compress)
    return repo


def repo_rewrite_metadata(repo: Path, data_type: str, change: object, compress: str = "",
                          update_checksum: bool = True) -> Path:
    """Replace the ``data_type`` metadata file: ``change(uncompressed_bytes) -> bytes``,
    written with ``compress`` (default: as before); repomd.xml is updated, or, when
    ``update_checksum`` is False, only its sizes. Returns the new file's path."""
    ET.register_namespace("", _REPO_NS)
    ET.register_namespace("rpm", "http://linux.duke.edu/metadata/rpm")
    repomd_path = repo / "repodata" / "repomd.xml"
    tree = ET.parse(repomd_path)
    for data in tree.getroot().iter(f"{{{_REPO_NS}}}data"):
        if data.get("type") != data_type:
            continue
        location = data.find(f"{{{_REPO_NS}}}location")
        assert location is not None
        old = repo / location.get("href", "")
        raw = old.read_bytes()
        if raw.startswith(b"\x1f\x8b"):
            raw = gzip.decompress(raw)
            old_compress = "gz"
        else:
            old_compress = "none"
        new_raw = change(raw)  # type: ignore[operator]
        compress = compress or old_compress
        if compress == "zst":
            payload = zstandard.ZstdCompressor().compress(new_raw)
            suffix = ".zst"
        elif compress == "gz":
            payload = gzip.compress(new_raw)
            suffix = ".gz"
        else:
            payload, suffix = new_raw, ""
        if not update_checksum:
            # A tampered file of the announced size: the sizes follow (the fetcher
            # refuses a file larger than announced before it hashes it), the checksums not.
            old.write_bytes(payload)
            for tag, value in (("size", str(len(payload))), ("open-size", str(len(new_raw)))):
                elem = data.find(f"{{{_REPO_NS}}}{tag}")
                if elem is not None:
                    elem.text = value
            tree.write(repomd_path, xml_declaration=True, encoding="UTF-8")
            return old
        digest = hashlib.sha256(payload).hexdigest()
        new = repo / "repodata" / f"{digest}-{data_type}.xml{suffix}"
        old.unlink()
        new.write_bytes(payload)
        location.set("href", f"repodata/{new.name}")
        for tag, value in (("checksum", digest), ("size", str(len(payload))),
                           ("open-checksum", hashlib.sha256(new_raw).hexdigest()),
                           ("open-size", str(len(new_raw)))):
            elem = data.find(f"{{{_REPO_NS}}}{tag}")
            if elem is not None:
                elem.text = value
                if "type" in elem.attrib:
                    elem.set("type", "sha256")
        tree.write(repomd_path, xml_declaration=True, encoding="UTF-8")
        return new
    raise AssertionError(f"no {data_type} in {repomd_path}")


@pytest.fixture(scope="session")
def repo_rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test RPMs, built once with rpmbuild, by label."""
    workdir = tmp_path_factory.mktemp("rpms")
    specs = {
        "libfoo-1.0": libfoo("1.0"),
        "libfoo-2.0": libfoo("2.0"),
        "libfoo-9.0-src": libfoo("9.0", "src"),
        "foo-data": RepoRpm("foo-data", "1.0", "noarch", extra="Provides: foo-data-files"),
        "openssl": RepoRpm("openssl", "3.0.12", extra="Requires: openssl-libs"),
        "openssl-libs": RepoRpm("openssl-libs", "3.0.12",
                                extra="Provides: libssl.so.3()(64bit)"),
        "armonly": RepoRpm("armonly", "1.0", "aarch64"),
        "epochpkg-1": RepoRpm("epochpkg", "0.1", epoch=1),
        "epochpkg-0": RepoRpm("epochpkg", "5.0"),
        "tilde-final": RepoRpm("tildepkg", "1.0"),
        "tilde-rc": RepoRpm("tildepkg", "1.0~rc2"),
        "srconly": RepoRpm("srconly", "1.0", "src"),
    }
    return {label: repo_build_rpm(spec, workdir) for label, spec in specs.items()}


def _copy_rpms(rpms: dict[str, Path], labels: list[str], repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    for label in labels:
        shutil.copy2(rpms[label], repo / rpms[label].name)


@pytest.fixture(scope="session")
def repo_mirror_tree(repo_rpms: dict[str, Path],
                     tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror laid out like repo.openeuler.org with the four default repositories:
    OS has libfoo-1.0 (and the newer-versioned src RPM), update has libfoo-2.0."""
    root = tmp_path_factory.mktemp("mirror")
    base = root / f"openEuler-{REPO_RELEASE}"
    content = {
        "OS": ["libfoo-1.0", "libfoo-9.0-src", "foo-data", "openssl", "openssl-libs",
               "epochpkg-1", "tilde-rc", "srconly"],
        "everything": ["epochpkg-0", "tilde-final"],
        "EPOL/main": [],
        "update": ["libfoo-2.0"],
    }
    for path, labels in content.items():
        _copy_rpms(repo_rpms, labels, base / path / "x86_64")
        repo_createrepo(base / path / "x86_64")
        _copy_rpms(repo_rpms, ["armonly", "foo-data"] if path == "OS" else [],
                   base / path / "aarch64")
        repo_createrepo(base / path / "aarch64")
    return root


@dataclass(frozen=True)
class RepoTools:
    """The repository-making helpers, handed to tests as the ``repo_tools`` fixture."""

    createrepo: Callable[..., Path]
    rewrite_metadata: Callable[..., Path]


@pytest.fixture(scope="session")
def repo_tools() -> RepoTools:
    """createrepo(repo, compress) and rewrite_metadata(repo, type, change, ...)."""
    return RepoTools(repo_createrepo, repo_rewrite_metadata)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def repo_www(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1; yields (document root, its URL ending in /)."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def repo_mirror(repo_mirror_tree: Path, repo_www: tuple[Path, str],
                request: pytest.FixtureRequest) -> tuple[Path, str]:
    """A private copy of the mirror tree served over HTTP: (its directory, its URL).
    Tests may corrupt their copy freely."""
    root, url = repo_www
    name = request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    copy = root / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(repo_mirror_tree, copy)
    return copy, f"{url}{name}/"


@pytest.fixture
def repo_closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a tiny slice corpus in the corpus format (for training and ``sdfgen train``) ---

def _corpus_package(name: str, soname: str) -> CorpusPackage:
    """A corpus package of nine files, one or two per role, named after ``name``."""
    files = [
        (f"/usr/lib/x86_64-linux-gnu/lib{soname}.so.1", "libs"),
        (f"/usr/lib/x86_64-linux-gnu/lib{soname}.so.1.0.0", "libs"),
        (f"/usr/share/doc/{name}/copyright", "copyright"),
        (f"/usr/share/doc/{name}/changelog.gz", None),
        (f"/usr/share/man/man1/{soname}.1.gz", None),
        (f"/usr/bin/{soname}", "bins"),
        (f"/usr/share/{name}/{soname}.dat", "data"),
        (f"/usr/lib/{name}/plugins/{soname}-extra.so", "modules"),
        (f"/etc/{name}/{soname}.conf", "config"),
    ]
    return CorpusPackage(name, "ubuntu-24.04", "bookworm", 1.0,
                         tuple(LabeledFile(p, s) for p, s in files))


@pytest.fixture()
def corpus_package() -> Callable[[str, str], CorpusPackage]:
    """Makes corpus packages: ``corpus_package(name, soname)``."""
    return _corpus_package


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """A corpus directory of six packages of distinct families."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    write_labels(corpus / "chisel-labels.jsonl.gz",
                 [_corpus_package(n, n[:3] + "x") for n in names])
    return corpus
