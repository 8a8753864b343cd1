"""Rules: decisions from real ELF facts (gcc + the ELF reader) and from paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sdfgen.facts import FileFlag, FileKind, PackageFile
from sdfgen.roles.labels import Role, role_for_slice
from sdfgen.roles.rules import classify_by_rules, is_dev_package, is_lib_dir
from sdfgen.rpm.elf import read_elf


def _gcc(tmp_path: Path, name: str, *args: str) -> bytes:
    source = tmp_path / "x.c"
    source.write_text("int answer(void) { return 42; }\nint main(void) { return answer(); }\n")
    out = tmp_path / name
    subprocess.run(["gcc", "-o", str(out), str(source), *args], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def elves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PackageFile]:
    tmp = tmp_path_factory.mktemp("elf")
    lib = read_elf(_gcc(tmp, "libdemo.so.3", "-shared", "-fPIC", "-Wl,-soname,libdemo.so.3"))
    plugin = read_elf(_gcc(tmp, "afalg.so", "-shared", "-fPIC"))
    exe = read_elf(_gcc(tmp, "demo", "-pie", "-fPIE"))
    assert lib is not None and plugin is not None and exe is not None
    return {
        "lib": PackageFile("/usr/lib64/libdemo.so.3.0.1", FileKind.FILE, 0o755, elf=lib),
        "plugin": PackageFile("/usr/lib64/engines-3/afalg.so", FileKind.FILE, 0o755, elf=plugin),
        "exe": PackageFile("/usr/bin/demo", FileKind.FILE, 0o755, elf=exe),
    }


def test_real_elf_facts_decide(elves: dict[str, PackageFile]) -> None:
    lib = classify_by_rules(elves["lib"].path, "demo-libs", file=elves["lib"])
    assert (lib.role, lib.confident) == (Role.LIBS, True)
    assert lib.reason == "ELF with SONAME libdemo.so.3"
    plugin = classify_by_rules(elves["plugin"].path, "demo-libs", file=elves["plugin"])
    assert plugin.role is Role.MODULES and plugin.confident
    assert "without SONAME" in plugin.reason
    exe = classify_by_rules(elves["exe"].path, "demo", file=elves["exe"])
    assert (exe.role, exe.confident) == (Role.BINS, True)


def test_symlinks_dev_versus_runtime() -> None:
    dev = PackageFile("/usr/lib64/libssl.so", FileKind.SYMLINK, 0o777, link_target="libssl.so.3")
    run = PackageFile("/usr/lib64/libssl.so.3", FileKind.SYMLINK, 0o777,
                      link_target="libssl.so.3.0.7")
    assert classify_by_rules(dev.path, "openssl-libs", file=dev).role is Role.LEFT_OUT
    assert classify_by_rules(dev.path, "openssl-devel", file=dev).role is Role.DEV
    decision = classify_by_rules(run.path, "openssl-libs", file=run)
    assert decision == classify_by_rules(run.path, "openssl-libs", file=run)
    assert decision.role is Role.LIBS and decision.confident
    assert decision.reason == "runtime symlink libssl.so.3 -> libssl.so.3.0.7"


@pytest.mark.parametrize(
    ("flag", "role", "reason"),
    [
        (FileFlag.LICENSE, Role.COPYRIGHT, "%license file"),
        (FileFlag.DOC, Role.LEFT_OUT, "%doc file"),
        (FileFlag.CONFIG, Role.CONFIG, "%config file"),
        (FileFlag.GHOST, Role.LEFT_OUT, "%ghost file (not in the payload)"),
    ],
)
def test_rpm_flags_decide(flag: FileFlag, role: Role, reason: str) -> None:
    entry = PackageFile("/usr/share/foo/thing", FileKind.FILE, 0o644, flags=frozenset({flag}))
    assert classify_by_rules(entry.path, "foo", file=entry) == (
        classify_by_rules(entry.path, "foo", file=entry)
    )
    decision = classify_by_rules(entry.path, "foo", file=entry)
    assert (decision.role, decision.confident, decision.reason) == (role, True, reason)


def test_shebang_script() -> None:
    entry = PackageFile("/usr/bin/zless", FileKind.FILE, 0o755, shebang="/bin/sh")
    decision = classify_by_rules(entry.path, "gzip", file=entry)
    assert (decision.role, decision.reason) == (Role.SCRIPTS, "script run by /bin/sh")


@pytest.mark.parametrize(
    ("path", "package", "role", "confident"),
    [
        ("/usr/share/man/man1/ls.1.gz", "coreutils", Role.LEFT_OUT, True),
        ("/usr/share/doc/libssl3/copyright", "libssl3", Role.COPYRIGHT, True),
        ("/usr/share/licenses/openssl-libs/LICENSE.txt", "openssl-libs", Role.COPYRIGHT, True),
        ("/usr/share/doc/libssl3/changelog.gz", "libssl3", Role.LEFT_OUT, True),
        ("/usr/include/openssl/ssl.h", "openssl-devel", Role.DEV, True),
        ("/usr/include/openssl/ssl.h", "openssl", Role.LEFT_OUT, True),
        ("/usr/lib64/libcrypto.a", "openssl", Role.LEFT_OUT, True),
        ("/usr/lib64/pkgconfig/openssl.pc", "openssl-devel", Role.DEV, True),
        ("/usr/lib/x86_64-linux-gnu/cmake/Foo/FooConfig.cmake", "libfoo", Role.LEFT_OUT, True),
        ("/usr/lib/x86_64-linux-gnu/libssl.so.3", "libssl3", Role.LIBS, True),
        ("/usr/lib/aarch64-linux-gnu/libz.so.1.2.13", "zlib1g", Role.LIBS, True),
        ("/usr/lib64/libz.so.1", "zlib", Role.LIBS, True),
        ("/usr/lib64/ossl-modules/legacy.so", "openssl-libs", Role.MODULES, True),
        ("/usr/lib64/gconv/UTF-16.so", "glibc", Role.MODULES, True),
        ("/usr/lib64/python3.11/lib-dynload/_bz2.cpython-311-x86_64-linux-gnu.so", "python3",
         Role.MODULES, True),
        ("/usr/bin/ls", "coreutils", Role.BINS, True),
        ("/usr/sbin/nginx", "nginx", Role.BINS, True),
        ("/etc/nginx/nginx.conf", "nginx", Role.CONFIG, True),
        ("/usr/share/zoneinfo/Europe/Paris", "tzdata", Role.DATA, True),
        ("/usr/share/locale/fr/LC_MESSAGES/coreutils.mo", "coreutils", Role.LEFT_OUT, True),
        ("/usr/lib/locale/C.utf8/LC_CTYPE", "glibc", Role.LOCALE, True),
        ("/usr/share/nginx/html/index.html", "nginx", Role.DATA, False),
        ("/usr/lib64/libnss3.so", "nss", Role.LIBS, False),
    ],
)
def test_path_rules(path: str, package: str, role: Role, confident: bool) -> None:
    decision = classify_by_rules(path, package)
    assert (decision.role, decision.confident) == (role, confident), decision.reason
    assert decision.reason and "\n" not in decision.reason


def test_helpers() -> None:
    assert is_dev_package("openssl-devel") and is_dev_package("libc6-dev")
    assert not is_dev_package("devscripts") and not is_dev_package("openssl-libs")
    assert is_lib_dir("/usr/lib64") and is_lib_dir("/usr/lib/x86_64-linux-gnu")
    assert not is_lib_dir("/usr/lib64/engines-3")


@pytest.mark.parametrize(
    ("name", "path", "role"),
    [
        ("libs", "/usr/lib/python3/dist-packages/pip/__init__.py", Role.LIBS),
        ("tmpfiles-config", "/usr/lib/tmpfiles.d/x.conf", Role.CONFIG),
        ("linux-headers", "/usr/include/linux/x.h", Role.DEV),
        ("africa", "/usr/share/zoneinfo/Africa/Abidjan", Role.DATA),
        ("block-devices", "/bin/lsblk", Role.BINS),
        ("core", "/usr/lib/jvm/java-21-openjdk-amd64/lib/libjli.so", Role.LIBS),
        (None, "/usr/bin/nm", Role.LEFT_OUT),
    ],
)
def test_slice_name_mapping(name: str | None, path: str, role: Role) -> None:
    label = role_for_slice(name, path)
    assert label.role is role and label.slice_name == name


@pytest.mark.parametrize("package", ["python3", "python3.11", "libpython3.11-stdlib"])
def test_interpreter_stdlib_is_libs_even_with_a_shebang(package: str) -> None:
    script = PackageFile(path="/usr/lib/python3.11/platform.py", kind=FileKind.FILE,
                         mode=0o755, shebang="/usr/bin/env")
    for path, file in (("/usr/lib/python3.11/os.py", None),
                       ("/usr/lib/python3.11/json/decoder.py", None),
                       (script.path, script)):
        decision = classify_by_rules(path, package, file=file)
        assert decision.role is Role.LIBS and decision.confident, (path, decision)


def test_stdlib_rule_is_only_for_the_interpreter_package() -> None:
    for path, package in (("/usr/lib/python3.11/os.py", "python3-foo"),
                          ("/usr/lib/python3.11/lib2to3/main.py", "python3"),
                          ("/usr/lib/python3.11/site-packages/x.py", "python3")):
        assert not classify_by_rules(path, package).confident, (path, package)


@pytest.mark.parametrize(
    ("path", "package", "role", "confident"),
    [
        # Debian's /usr/share/doc/<pkg> symlink: how <pkg>/copyright resolves.
        ("/usr/share/doc/gcc-13", "gcc-13", Role.COPYRIGHT, True),
        ("/usr/share/doc/gcc-13/copyright", "gcc-13", Role.COPYRIGHT, True),
        ("/usr/share/doc/gcc-13/changelog.gz", "gcc-13", Role.LEFT_OUT, True),
        # A bundled package's copyright is a guess: the package's own is the copyright slice.
        ("/usr/share/doc/node-acorn-walk/copyright", "node-acorn", Role.LEFT_OUT, False),
        ("/usr/share/tomcat10/bin/catalina.sh", "tomcat10-common", Role.SCRIPTS, False),
        ("/usr/share/tomcat10/bin/catalina", "tomcat10-common", Role.BINS, False),
        ("/usr/lib/systemd/systemd-journald", "systemd", Role.BINS, False),
        ("/usr/lib/systemd/system-generators/systemd-fstab-generator", "systemd",
         Role.BINS, False),
        ("/usr/lib/systemd/system/foo.service", "systemd", Role.CONFIG, False),
        ("/usr/share/foo/foo.conf.example", "foo", Role.LEFT_OUT, False),
        ("/usr/lib/jvm/java-17-openjdk-amd64/include/jni.h", "openjdk-17-jdk-headless",
         Role.DEV, True),
        ("/usr/lib/jvm/java-17-openjdk-amd64/include/jni.h", "openjdk-17-jre-headless",
         Role.LEFT_OUT, True),
    ],
)
def test_path_rules_for_doc_links_scripts_and_helpers(
    path: str, package: str, role: Role, confident: bool
) -> None:
    decision = classify_by_rules(path, package)
    assert (decision.role, decision.confident) == (role, confident), decision
