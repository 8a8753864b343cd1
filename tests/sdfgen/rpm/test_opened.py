"""Files ELF objects open by name (sdfgen.rpm.opened), on in-memory packages."""

from __future__ import annotations

from collections.abc import Sequence

from sdfgen.facts import ElfInfo, Evr, FileFlag, FileKind, PackageFile, RpmPackage
from sdfgen.rpm.opened import ShippedFile, opened_paths


def _file(path: str, kind: FileKind = FileKind.FILE, mode: int = 0o644,
          link: str | None = None, paths: tuple[str, ...] = ()) -> PackageFile:
    elf = ElfInfo(elf_type="ET_DYN", paths=paths) if paths else None
    return PackageFile(path, kind, mode, link_target=link, elf=elf)


def _rpm(name: str, *files: PackageFile) -> RpmPackage:
    return RpmPackage(name, Evr(0, "1", "1"), "x86_64", files=files)


LIBCRYPTO = _rpm("crypto-libs", _file(
    "/usr/lib/libcrypto.so.3", paths=("/usr/lib/ssl/cert.pem", "/usr/lib/ssl",
                                      "/usr/lib/ssl/missing.cnf", "/usr/bin/helper",
                                      "/usr/share/crypto/own.dat")),
    _file("/usr/share/crypto/own.dat"))
OPENSSL = _rpm("openssl",
               _file("/usr/lib/ssl", FileKind.DIR, 0o755),
               _file("/usr/lib/ssl/cert.pem", FileKind.SYMLINK, 0o777,
                     "../../../etc/ssl/certs/bundle.crt"),
               _file("/usr/bin/helper", mode=0o755))
CA = _rpm("ca-certificates", _file("/etc/ssl/certs/bundle.crt"))


def _owners(path: str) -> Sequence[RpmPackage]:
    return [rpm for rpm in (OPENSSL, CA) if any(f.path == path for f in rpm.files)]


def test_shipped_files_with_their_symlink_targets() -> None:
    found = {item.path: item for item in opened_paths(LIBCRYPTO, _owners)}
    # A directory, a path nobody ships and a program (execute bit) are not needs.
    assert sorted(found) == ["/usr/lib/ssl/cert.pem", "/usr/share/crypto/own.dat"]
    assert found["/usr/lib/ssl/cert.pem"].files == (
        ShippedFile("openssl", "/usr/lib/ssl/cert.pem"),
        ShippedFile("ca-certificates", "/etc/ssl/certs/bundle.crt"))
    assert found["/usr/share/crypto/own.dat"].files == (
        ShippedFile("crypto-libs", "/usr/share/crypto/own.dat"),)
    assert found["/usr/lib/ssl/cert.pem"].needed_by == "/usr/lib/libcrypto.so.3"


def test_wanted_limits_the_objects_and_loops_end() -> None:
    looping = _rpm("loop", _file("/usr/lib/libloop.so", paths=("/etc/a",)),
                   _file("/etc/a", FileKind.SYMLINK, 0o777, "b"),
                   _file("/etc/b", FileKind.SYMLINK, 0o777, "a"))
    (item,) = opened_paths(looping, lambda path: ())
    assert [f.path for f in item.files] == ["/etc/a", "/etc/b"]
    assert list(opened_paths(looping, lambda path: (), lambda entry: False)) == []


def test_documentation_is_no_need() -> None:
    doc = PackageFile("/usr/share/widget/NEWS", FileKind.FILE, 0o644,
                      flags=frozenset({FileFlag.DOC}))
    rpm = _rpm("widget", _file("/usr/bin/widget", mode=0o755,
                               paths=("/usr/share/widget/NEWS", "/usr/share/doc/widget/x")),
               doc, _file("/usr/share/doc/widget/x"))
    assert list(opened_paths(rpm, lambda path: ())) == []
