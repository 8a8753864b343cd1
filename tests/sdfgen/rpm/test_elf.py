"""read_elf over real objects built by gcc (and the aarch64 cross compiler) in the test."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from sdfgen.facts import SymbolVersion
from sdfgen.rpm.elf import read_elf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
from builders import compile_c  # noqa: E402

LIB_SOURCE = """\
#include <stdio.h>
int foo_v1(void) { return puts("v1"); }
int foo_v2(void) { return 2; }
__asm__(".symver foo_v1,foo@FOO_1.0");
__asm__(".symver foo_v2,foo@@FOO_2.0");
"""
VERSION_SCRIPT = "FOO_1.0 { global: foo; local: *; };\nFOO_2.0 { global: foo; } FOO_1.0;\n"
APP_SOURCE = "int foo(void);\nint main(void) { return foo(); }\n"
MAIN_SOURCE = "int main(void) { return 0; }\n"


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One object of each shape; the gcc command lines are the test's spec."""
    work = tmp_path_factory.mktemp("elf")
    (work / "foo.map").write_text(VERSION_SCRIPT)
    lib = compile_c(work / "lib" / "libfoo.so.1", LIB_SOURCE, "-shared", "-fPIC",
                    "-Wl,-soname,libfoo.so.1", f"-Wl,--version-script,{work / 'foo.map'}")
    link = [f"-L{lib.parent}", "-l:libfoo.so.1"]
    return {
        "lib": lib,
        "runpath": compile_c(work / "bin" / "app", APP_SOURCE, *link,
                             "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"),
        "rpath": compile_c(work / "bin" / "app-rpath", APP_SOURCE, *link,
                           "-Wl,-rpath,/opt/a:/opt/b", "-Wl,--disable-new-dtags"),
        "static": compile_c(work / "static", MAIN_SOURCE, "-static"),
        "static-pie": compile_c(work / "static-pie", MAIN_SOURCE, "-static-pie"),
        "object": compile_c(work / "main.o", MAIN_SOURCE, "-c"),
    }


def test_shared_library_with_soname_and_versions(objects: dict[str, Path]) -> None:
    info = read_elf(objects["lib"].read_bytes())
    assert info is not None and info.error is None
    assert (info.elf_class, info.machine, info.elf_type) == (64, "EM_X86_64", "ET_DYN")
    assert info.soname == "libfoo.so.1"
    assert info.interpreter is None
    assert "libc.so.6" in info.needed
    # The base entry (the file name) is not a version.
    assert info.versions_defined == ("FOO_1.0", "FOO_2.0")
    assert not info.is_static and info.is_pie_or_shared


def test_executable_with_runpath_and_needed_versions(objects: dict[str, Path]) -> None:
    with objects["runpath"].open("rb") as stream:
        info = read_elf(stream)
    assert info is not None and info.error is None
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.runpath == ("$ORIGIN/../lib",)
    assert info.rpath == ()
    assert SymbolVersion("libfoo.so.1", "FOO_2.0") in info.versions_needed
    assert {v.library for v in info.versions_needed} == {"libfoo.so.1", "libc.so.6"}
    assert any(v.version.startswith("GLIBC_2.") for v in info.versions_needed)
    assert info.versions_defined == ()


def test_rpath_is_split_on_colons(objects: dict[str, Path]) -> None:
    info = read_elf(objects["rpath"].read_bytes())
    assert info is not None
    assert (info.rpath, info.runpath) == (("/opt/a", "/opt/b"), ())


@pytest.mark.parametrize(("name", "elf_type"), [
    ("static", "ET_EXEC"), ("static-pie", "ET_DYN"), ("object", "ET_REL")])
def test_static_objects(objects: dict[str, Path], name: str, elf_type: str) -> None:
    info = read_elf(objects[name].read_bytes())
    assert info is not None and info.error is None
    assert info.elf_type == elf_type
    assert info.is_static
    assert (info.interpreter, info.needed) == (None, ())


@pytest.mark.parametrize("length", [3000, 64, 20, 5])
def test_truncated_elf_is_recorded_not_raised(objects: dict[str, Path], length: int) -> None:
    info = read_elf(objects["runpath"].read_bytes()[:length])
    assert info is not None
    assert info.error is not None and info.error.startswith("broken ELF: ")
    assert "\n" not in info.error
    assert (info.machine, info.needed, info.soname) == ("", (), None)


def test_garbage_after_magic_is_broken(objects: dict[str, Path]) -> None:
    data = bytearray(objects["lib"].read_bytes())
    data[0x20:0x40] = b"\xff" * 0x20  # e_phoff, e_shoff, ... point nowhere
    info = read_elf(bytes(data))
    assert info is not None and info.error is not None
    assert info.error.startswith("broken ELF: ")


@pytest.mark.parametrize("data", [b"", b"#!/bin/sh\necho\n", b"\x7fEL", b"MZ\x90\x00" * 40])
def test_not_elf(data: bytes) -> None:
    assert read_elf(data) is None
    assert read_elf(io.BytesIO(data)) is None


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None,
                    reason="needs aarch64-linux-gnu-gcc (Debian: gcc-aarch64-linux-gnu)")
def test_aarch64_cross_built(tmp_path: Path) -> None:
    (tmp_path / "foo.map").write_text(VERSION_SCRIPT)
    lib = compile_c(tmp_path / "libfoo.so.1", LIB_SOURCE, "-shared", "-fPIC",
                    "-Wl,-soname,libfoo.so.1", f"-Wl,--version-script,{tmp_path / 'foo.map'}",
                    cc="aarch64-linux-gnu-gcc")
    app = compile_c(tmp_path / "app", APP_SOURCE, f"-L{tmp_path}", "-l:libfoo.so.1",
                    "-Wl,-rpath,$ORIGIN", cc="aarch64-linux-gnu-gcc")
    lib_info, app_info = read_elf(lib.read_bytes()), read_elf(app.read_bytes())
    assert lib_info is not None and app_info is not None
    assert (lib_info.machine, lib_info.elf_class, lib_info.soname) == (
        "EM_AARCH64", 64, "libfoo.so.1")
    assert lib_info.versions_defined == ("FOO_1.0", "FOO_2.0")
    assert app_info.interpreter == "/lib/ld-linux-aarch64.so.1"
    assert app_info.needed == ("libfoo.so.1", "libc.so.6")
    assert app_info.runpath + app_info.rpath == ("$ORIGIN",)
    assert SymbolVersion("libfoo.so.1", "FOO_2.0") in app_info.versions_needed


def test_object_without_section_headers(objects: dict[str, Path]) -> None:
    # As sstrip leaves it: e_shoff, e_shnum and e_shstrndx zeroed; the dynamic tags
    # are then read through PT_DYNAMIC (symbol versions live only in sections).
    data = bytearray(objects["runpath"].read_bytes())
    data[0x28:0x30] = bytes(8)
    data[0x3C:0x40] = bytes(4)
    info = read_elf(bytes(data))
    assert info is not None and info.error is None
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.runpath == ("$ORIGIN/../lib",)
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert info.versions_needed == ()


PATHS_SOURCE = """\
#include <stdio.h>
#include <string.h>
static const char *names[] = {
    "/etc/widget/widget.conf", "/usr/share/widget/%s.dat", "/usr/lib/../etc/x",
    "/etc/widget/", "/tmp/widget.sock", "OPENSSLDIR: /etc/widget", "/usr/lib/widget",
};
int main(int argc, char **argv) {
    return puts(names[argc % 7]) + (int)strlen(argv[0]);
}
"""


def test_rodata_paths_are_whole_absolute_paths(tmp_path: Path) -> None:
    """Only whole .rodata strings that are clean absolute paths below the directories
    packages ship count: no templates, no '..', no trailing '/', no /tmp, no messages."""
    app = compile_c(tmp_path / "widget", PATHS_SOURCE, "-O2")
    elf = read_elf(app.read_bytes())
    assert elf is not None and elf.error is None
    assert "/etc/widget/widget.conf" in elf.paths
    assert "/usr/lib/widget" in elf.paths
    for not_a_path in ("/usr/share/widget/%s.dat", "/usr/lib/../etc/x", "/etc/widget/",
                       "/tmp/widget.sock", "/etc/widget"):
        assert not_a_path not in elf.paths
    assert list(elf.paths) == sorted(elf.paths)
