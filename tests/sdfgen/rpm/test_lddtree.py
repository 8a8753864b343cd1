"""NEEDED resolution: unit tests over an in-memory index, plus real RPMs from rpmbuild."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sdfgen.facts import ElfInfo, FileKind, PackageFile
from sdfgen.rpm.lddtree import (
    Layout,
    build_index,
    default_dirs,
    expand,
    lookup,
    resolve_needed,
    resolve_tree,
)
from sdfgen.rpm.reader import read_rpm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
from builders import build_rpm, compile_c  # noqa: E402

X86 = ElfInfo(elf_class=64, machine="EM_X86_64", elf_type="ET_DYN")
ARM = ElfInfo(elf_class=64, machine="EM_AARCH64", elf_type="ET_DYN")
I386 = ElfInfo(elf_class=32, machine="EM_386", elf_type="ET_DYN")
Index = dict[str, tuple[str, PackageFile]]


def elf_file(path: str, elf: ElfInfo = X86, **changes: object) -> PackageFile:
    info = ElfInfo(**{**elf.__dict__, **changes})  # type: ignore[arg-type]
    return PackageFile(path, FileKind.FILE, 0o755, elf=info)


def symlink(path: str, target: str) -> PackageFile:
    return PackageFile(path, FileKind.SYMLINK, 0o777, link_target=target)


def index_of(*entries: tuple[str, PackageFile]) -> Index:
    return {file.path: (package, file) for package, file in entries}


def app(**changes: object) -> ElfInfo:
    return ElfInfo(**{**X86.__dict__, "interpreter": "/lib64/ld-linux-x86-64.so.2",
                      **changes})  # type: ignore[arg-type]


# --- directories and expansion ---------------------------------------------------


def test_default_dirs_per_layout_and_arch() -> None:
    assert default_dirs(X86, Layout.RPM) == ("/lib64", "/usr/lib64")
    assert default_dirs(ARM, Layout.DEBIAN) == (
        "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib")
    assert default_dirs(X86) == ("/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu",
                                 "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib")
    assert default_dirs(I386, Layout.RPM) == ("/lib", "/usr/lib")


def test_expand_dynamic_string_tokens() -> None:
    assert expand("$ORIGIN/../lib", "/opt/app/bin", X86) == ["/opt/app/lib"]
    assert expand("${ORIGIN}", "/opt/app/bin", X86) == ["/opt/app/bin"]
    assert expand("/opt/$LIB", "/", X86) == ["/opt/lib64", "/opt/lib/x86_64-linux-gnu"]
    assert expand("/opt/${LIB}", "/", ARM, Layout.DEBIAN) == ["/opt/lib/aarch64-linux-gnu"]
    assert expand("/opt/$PLATFORM/lib", "/", ARM) == ["/opt/aarch64/lib"]
    assert expand("relative/dir", "/opt", X86) == []  # would be the process's cwd


# --- search order ---------------------------------------------------------------


def test_runpath_disables_rpath() -> None:
    index = index_of(("r", elf_file("/opt/r/libx.so.1")), ("n", elf_file("/opt/n/libx.so.1")))
    both = resolve_needed("/usr/bin/app", app(needed=("libx.so.1",), rpath=("/opt/r",),
                                              runpath=("/opt/n",)), index)
    assert (both.needed[0].path, both.needed[0].package, both.needed[0].reason) == (
        "/opt/n/libx.so.1", "n", "runpath")
    assert "/opt/r" not in both.search_path
    only_rpath = resolve_needed("/usr/bin/app", app(needed=("libx.so.1",),
                                                    rpath=("/opt/r",)), index)
    assert (only_rpath.needed[0].path, only_rpath.needed[0].reason) == (
        "/opt/r/libx.so.1", "rpath")


def test_rpath_and_runpath_come_before_default_dirs() -> None:
    index = index_of(("sys", elf_file("/usr/lib64/libx.so.1")),
                     ("app", elf_file("/opt/app/lib/libx.so.1")))
    deps = resolve_needed("/opt/app/bin/app", app(needed=("libx.so.1",),
                                                  runpath=("$ORIGIN/../lib",)), index)
    assert deps.needed[0].package == "app"
    assert deps.search_path[0] == "/opt/app/lib"
    plain = resolve_needed("/opt/app/bin/app", app(needed=("libx.so.1",)), index)
    assert (plain.needed[0].package, plain.needed[0].reason) == ("sys", "default")


def test_symlinked_directories_and_files_inside_the_index() -> None:
    index = index_of(
        ("filesystem", symlink("/lib64", "usr/lib64")),
        ("zlib", symlink("/usr/lib64/libz.so.1", "libz.so.1.2.13")),
        ("zlib", elf_file("/usr/lib64/libz.so.1.2.13")),
        ("glibc", elf_file("/usr/lib64/ld-linux-x86-64.so.2")),
    )
    deps = resolve_needed("/usr/bin/app", app(needed=("libz.so.1",)), index)
    (z,) = deps.needed
    assert (z.path, z.real_path, z.package, z.reason) == (
        "/lib64/libz.so.1", "/usr/lib64/libz.so.1.2.13", "zlib", "default")
    assert z.chain == ("/lib64", "/usr/lib64/libz.so.1")
    assert deps.interpreter is not None
    assert (deps.interpreter.package, deps.interpreter.real_path, deps.interpreter.reason) == (
        "glibc", "/usr/lib64/ld-linux-x86-64.so.2", "interpreter")


def test_incompatible_candidates_are_skipped() -> None:
    index = index_of(
        ("arm", elf_file("/usr/lib64/libx.so.1", ARM)),
        ("old", elf_file("/lib/libx.so.1", I386)),
        ("deb", elf_file("/usr/lib/x86_64-linux-gnu/libx.so.1")),
        ("script", PackageFile("/usr/lib64/liby.so.1", FileKind.FILE, 0o644)),
    )
    deps = resolve_needed("/usr/bin/app", app(needed=("libx.so.1", "liby.so.1")), index)
    x, y = deps.needed
    assert (x.path, x.package) == ("/usr/lib/x86_64-linux-gnu/libx.so.1", "deb")
    assert not y.resolved
    assert y.reason.startswith("not found in /lib64:/usr/lib64:")
    assert "skipped /usr/lib64/liby.so.1: not ELF" in y.reason
    arm_only = resolve_needed("/usr/bin/app", app(needed=("libx.so.1",)),
                              index_of(("arm", elf_file("/usr/lib64/libx.so.1", ARM))))
    assert "EM_AARCH64/64-bit, need EM_X86_64/64-bit" in arm_only.needed[0].reason


def test_symlink_loop_is_a_fact_not_a_crash() -> None:
    index = index_of(("a", symlink("/usr/lib64/liba.so.1", "libb.so.1")),
                     ("a", symlink("/usr/lib64/libb.so.1", "liba.so.1")),
                     ("s", symlink("/usr/lib64/libself.so.1", "/usr/lib64/libself.so.1")))
    deps = resolve_needed("/usr/bin/app", app(needed=("liba.so.1", "libself.so.1")), index)
    for dep in deps.needed:
        assert not dep.resolved
        assert "symlink loop at /usr/lib64/lib" in dep.reason
    loop = lookup(index, "/usr/lib64/liba.so.1")
    assert loop.real_path is None
    assert loop.error in ("symlink loop at /usr/lib64/liba.so.1",
                          "symlink loop at /usr/lib64/libb.so.1")


def test_symlinks_never_leave_the_index() -> None:
    index = index_of(("e", symlink("/usr/lib64/libesc.so.1", "../../../../../../etc/libesc")),
                     ("e", elf_file("/etc/libesc")))
    found = lookup(index, "/usr/lib64/libesc.so.1")
    assert (found.real_path, found.package) == ("/etc/libesc", "e")
    assert lookup(index, "/usr/lib64/../../../../bin/sh").real_path is None
    # A regular file used as a directory is ENOTDIR, not a match.
    assert lookup(index, "/etc/libesc/x").real_path is None


def test_unresolved_and_direct_path() -> None:
    index = index_of(("abs", elf_file("/opt/x/libabs.so")))
    deps = resolve_needed("/usr/bin/app", app(needed=("libnope.so.9", "/opt/x/libabs.so")),
                          index, layout=Layout.RPM)
    nope, absolute = deps.needed
    assert (nope.path, nope.package, nope.reason) == (
        None, None, "not found in /lib64:/usr/lib64")
    assert (absolute.path, absolute.reason) == ("/opt/x/libabs.so", "direct path")
    assert deps.interpreter is not None and not deps.interpreter.resolved
    assert deps.interpreter.reason == "interpreter /lib64/ld-linux-x86-64.so.2 not in the index"


def test_tree_inherits_rpath_only_without_runpath() -> None:
    def world(app_elf: ElfInfo) -> Index:
        return index_of(("app", elf_file("/opt/app/bin/app", **app_elf.__dict__)),
                        ("app", elf_file("/opt/app/lib/liba.so", needed=("libb.so",))),
                        ("app", elf_file("/opt/app/lib/libb.so")))

    with_rpath = world(app(needed=("liba.so",), rpath=("$ORIGIN/../lib",)))
    tree = resolve_tree(["/opt/app/bin/app"], with_rpath)
    assert set(tree) == {"/opt/app/bin/app", "/opt/app/lib/liba.so", "/opt/app/lib/libb.so"}
    (b,) = tree["/opt/app/lib/liba.so"].needed
    assert (b.path, b.reason) == ("/opt/app/lib/libb.so", "inherited rpath")

    # glibc: DT_RUNPATH applies to the object's own NEEDED only.
    with_runpath = world(app(needed=("liba.so",), runpath=("$ORIGIN/../lib",)))
    tree = resolve_tree(["/opt/app/bin/app"], with_runpath)
    assert not tree["/opt/app/lib/liba.so"].needed[0].resolved


def test_ldconfig_dirs_before_defaults() -> None:
    index = index_of(("mysql", elf_file("/usr/lib64/mysql/libmysqlclient.so.21")))
    deps = resolve_needed("/usr/bin/app", app(needed=("libmysqlclient.so.21",)), index,
                          ldconfig_dirs=("/usr/lib64/mysql",))
    assert (deps.needed[0].package, deps.needed[0].reason) == ("mysql", "ldconfig")


# --- real RPMs --------------------------------------------------------------------


def host_glibc() -> tuple[Path, Path]:
    """The build machine's real libc and dynamic loader (Debian multiarch paths)."""
    for libdir in (Path("/lib/x86_64-linux-gnu"), Path("/lib64"), Path("/usr/lib64")):
        libc, loader = libdir / "libc.so.6", libdir / "ld-linux-x86-64.so.2"
        if libc.exists() and loader.exists():
            return libc.resolve(), loader.resolve()
    pytest.fail("no x86_64 libc.so.6 on this machine")


def test_real_rpms_resolve_through_read_rpm(tmp_path: Path) -> None:
    # filesystem: /lib64 -> usr/lib64, as openEuler's filesystem package has it.
    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "lib64").symlink_to("usr/lib64")
    # glibc: the machine's real libc and loader, installed the openEuler way.
    libc, loader = host_glibc()
    glibc = tmp_path / "glibc/usr/lib64"
    glibc.mkdir(parents=True)
    (glibc / "libc.so.6").write_bytes(libc.read_bytes())
    (glibc / "ld-linux-x86-64.so.2").write_bytes(loader.read_bytes())
    # libfoo: a versioned library behind its soname symlink.
    lib = tmp_path / "libfoo/usr/lib64"
    compile_c(lib / "libfoo.so.1.0", '#include <stdio.h>\nint foo(void){return puts("f");}\n',
              "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1")
    (lib / "libfoo.so.1").symlink_to("libfoo.so.1.0")
    # app: a private library found through RUNPATH $ORIGIN/../lib.
    app_root = tmp_path / "app/opt/app"
    compile_c(app_root / "lib/libbar.so", "int bar(void){return 1;}\n", "-shared", "-fPIC",
              "-Wl,-soname,libbar.so")
    compile_c(app_root / "bin/app", "int foo(void); int bar(void);\n"
              "int main(void){return foo() + bar();}\n",
              f"-L{lib}", "-l:libfoo.so.1", f"-L{app_root / 'lib'}", "-lbar",
              "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")

    rpms = [
        build_rpm(tmp_path, "filesystem", fs, "/lib64\n"),
        build_rpm(tmp_path, "glibc", tmp_path / "glibc", "/usr/lib64/libc.so.6\n"
                  "/usr/lib64/ld-linux-x86-64.so.2\n", payload="w3.zstdio"),
        build_rpm(tmp_path, "libfoo", tmp_path / "libfoo", "/usr/lib64/libfoo.so.1.0\n"
                  "/usr/lib64/libfoo.so.1\n", payload="w6.xzdio"),
        build_rpm(tmp_path, "app", tmp_path / "app", "/opt/app\n", payload="w19.zstdio"),
    ]
    index = build_index(read_rpm(rpm) for rpm in rpms)

    app_file = index["/opt/app/bin/app"][1]
    assert app_file.elf is not None and app_file.elf.runpath == ("$ORIGIN/../lib",)
    deps = resolve_needed("/opt/app/bin/app", app_file.elf, index, layout=Layout.RPM)
    got = {d.soname: (d.path, d.real_path, d.package, d.reason) for d in deps.needed}
    assert got == {
        "libfoo.so.1": ("/lib64/libfoo.so.1", "/usr/lib64/libfoo.so.1.0", "libfoo", "default"),
        "libbar.so": ("/opt/app/lib/libbar.so", "/opt/app/lib/libbar.so", "app", "runpath"),
        "libc.so.6": ("/lib64/libc.so.6", "/usr/lib64/libc.so.6", "glibc", "default"),
    }
    assert deps.interpreter is not None
    assert (deps.interpreter.package, deps.interpreter.chain) == ("glibc", ("/lib64",))

    tree = resolve_tree(["/opt/app/bin/app"], index, layout=Layout.RPM)
    assert set(tree) == {"/opt/app/bin/app", "/usr/lib64/libfoo.so.1.0",
                         "/opt/app/lib/libbar.so", "/usr/lib64/libc.so.6",
                         "/usr/lib64/ld-linux-x86-64.so.2"}
    # The real libc needs the loader by its soname; it is found in the glibc package.
    libc_needs = {d.soname: d.package for d in tree["/usr/lib64/libc.so.6"].needed}
    assert libc_needs == {"ld-linux-x86-64.so.2": "glibc"}
