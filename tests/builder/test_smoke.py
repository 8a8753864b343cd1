"""Tests of builder.smoke with real parts: Debian bookworm libc6 for amd64 and arm64,
the sample programs from samples/apps built with gcc and aarch64-linux-gnu-gcc, real
chroots (arm64 through binfmt_misc) and real QEMU boots of Debian kernels.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.binfmt import ensure_binfmt, read_handler
from builder.debian import download_debs, extract_deb
from builder.errors import BuildError, SmokeSetupError
from builder.initramfs import build_harness, write_initramfs
from builder.oci import ImageConfig, PlatformImage, write_oci_layout
from builder.platform import AMD64, ARM64, Platform
from builder.smoke import smoke

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
APPS = ("hello", "hello-static", "hello-cxx", "exitcode", "sleeper")
BOTH = [pytest.param(p, m, id=f"{p.architecture}-{m}")
        for p in (AMD64, ARM64) for m in ("chroot", "system")]
LOADER = {AMD64: "/lib64/ld-linux-x86-64.so.2", ARM64: "/lib/ld-linux-aarch64.so.1"}


@pytest.fixture(scope="module")
def apps() -> Path:
    """build/apps/<machine>/ with the sample programs, compiled by samples/apps/build.sh."""
    out = BUILD / "apps"
    if not all((out / m / a).is_file() for m in ("x86_64", "aarch64") for a in APPS):
        subprocess.run(["sh", str(ROOT / "samples" / "apps" / "build.sh"), str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def rootfs(apps: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Platform, Path]:
    """Per platform: Debian's libc6, libgcc-s1 and libstdc++6 plus the apps in /usr/bin."""
    roots = {}
    for platform in (AMD64, ARM64):
        debs = download_debs(["libc6", "libgcc-s1", "libstdc++6"], platform.debian_arch,
                             BUILD / "debs" / platform.debian_arch,
                             state_root=BUILD / "apt" / platform.debian_arch)
        root = tmp_path_factory.mktemp(f"rootfs-{platform.architecture}")
        for deb in debs:
            extract_deb(deb, root)
        (root / "usr" / "bin").mkdir(exist_ok=True)
        for app in APPS:
            shutil.copy2(apps / platform.machine / app, root / "usr" / "bin" / app)
        roots[platform] = root
    return roots


def _variant(base: Path, dest: Path, *remove: str) -> Path:
    """A copy of ``base`` without the files ``remove`` (paths relative to the rootfs)."""
    subprocess.run(["cp", "-a", str(base), str(dest)], check=True)
    for path in remove:
        target = dest / path
        assert target.is_symlink() or target.exists(), path
        target.unlink()
    return dest


def _libdir(platform: Platform) -> str:
    return f"lib/{platform.machine}-linux-gnu"


@pytest.mark.parametrize(("platform", "mode"), BOTH)
def test_dynamic_hello_passes(rootfs: dict[Platform, Path], platform: Platform,
                              mode: str) -> None:
    result = smoke(rootfs[platform], platform, ["hello", "x y"], mode=mode,  # type: ignore[arg-type]
                   expect_output=rf"^hello from C on {platform.machine} \(1 args\)\narg 1: x y$",
                   cache_dir=BUILD, timeout=180)
    assert result.passed, f"{result.reason}\n{result.log}"
    assert result.exit_code == 0
    assert result.reason == "exit code 0 and output matched"
    assert result.command == ("hello", "x y")


@pytest.mark.parametrize(("platform", "mode"), BOTH)
def test_static_hello_needs_nothing_else(apps: Path, tmp_path: Path, platform: Platform,
                                         mode: str) -> None:
    (tmp_path / "bin").mkdir()
    shutil.copy2(apps / platform.machine / "hello-static", tmp_path / "bin" / "hello")
    result = smoke(tmp_path, platform, ["/bin/hello"], mode=mode,  # type: ignore[arg-type]
                   expect_output=f"hello from C on {platform.machine}", cache_dir=BUILD,
                   timeout=180)
    assert result.passed, f"{result.reason}\n{result.log}"


@pytest.mark.parametrize(("platform", "mode"), BOTH)
def test_missing_libc_fails_with_loader_error(rootfs: dict[Platform, Path], tmp_path: Path,
                                              platform: Platform, mode: str) -> None:
    broken = _variant(rootfs[platform], tmp_path / "root", f"{_libdir(platform)}/libc.so.6")
    result = smoke(broken, platform, ["/usr/bin/hello"], mode=mode,  # type: ignore[arg-type]
                   cache_dir=BUILD, timeout=180)
    assert not result.passed
    assert result.exit_code == 127
    message = ("/usr/bin/hello: error while loading shared libraries: libc.so.6: "
               "cannot open shared object file: No such file or directory")
    assert message in result.output
    assert result.reason == f"exit code 127, expected 0: {message}"


@pytest.mark.parametrize(("platform", "mode"), BOTH)
def test_missing_loader_is_explained(rootfs: dict[Platform, Path], tmp_path: Path,
                                     platform: Platform, mode: str) -> None:
    loader = LOADER[platform]
    broken = _variant(rootfs[platform], tmp_path / "root", loader.lstrip("/"))
    result = smoke(broken, platform, ["hello"], mode=mode,  # type: ignore[arg-type]
                   cache_dir=BUILD, timeout=180)
    assert not result.passed and result.exit_code == 127
    assert "cannot execute" in result.output and "No such file or directory" in result.output
    assert (f"hint: /usr/bin/hello needs the ELF interpreter {loader}, which is missing "
            "from the image") in result.output
    assert result.reason.startswith("exit code 127, expected 0: ")


@pytest.mark.parametrize(("platform", "mode"), [(ARM64, "chroot"), (AMD64, "system")])
def test_cxx_program_needs_libstdcxx(rootfs: dict[Platform, Path], tmp_path: Path,
                                     platform: Platform, mode: str) -> None:
    ok = smoke(rootfs[platform], platform, ["hello-cxx", "a"], mode=mode,  # type: ignore[arg-type]
               expect_output=r"hello from C\+\+ with 1 args", cache_dir=BUILD, timeout=180)
    assert ok.passed, f"{ok.reason}\n{ok.log}"
    broken = _variant(rootfs[platform], tmp_path / "root",
                      f"usr/{_libdir(platform)}/libstdc++.so.6")
    bad = smoke(broken, platform, ["hello-cxx"], mode=mode,  # type: ignore[arg-type]
                cache_dir=BUILD, timeout=180)
    assert not bad.passed
    assert "error while loading shared libraries: libstdc++.so.6" in bad.reason


@pytest.mark.parametrize(("platform", "mode"), [(AMD64, "chroot"), (ARM64, "system")])
def test_exit_code_and_output_expectations(rootfs: dict[Platform, Path], platform: Platform,
                                           mode: str) -> None:
    root = rootfs[platform]
    wrong = smoke(root, platform, ["exitcode", "3"], mode=mode,  # type: ignore[arg-type]
                  cache_dir=BUILD, timeout=180)
    assert (wrong.passed, wrong.exit_code) == (False, 3)
    assert wrong.reason == "exit code 3, expected 0: exiting with 3"
    right = smoke(root, platform, ["exitcode", "3"], mode=mode,  # type: ignore[arg-type]
                  expect_exit=3, cache_dir=BUILD, timeout=180)
    assert right.passed and right.reason == "exit code 3"
    unmatched = smoke(root, platform, ["hello"], mode=mode,  # type: ignore[arg-type]
                      expect_output=r"^goodbye", cache_dir=BUILD, timeout=180)
    assert not unmatched.passed and unmatched.exit_code == 0
    assert unmatched.reason == "output does not match '^goodbye'"


@pytest.mark.parametrize(("platform", "mode", "timeout"),
                         [(AMD64, "chroot", 2), (ARM64, "chroot", 2), (ARM64, "system", 5)])
def test_timeout(rootfs: dict[Platform, Path], platform: Platform, mode: str,
                 timeout: int) -> None:
    result = smoke(rootfs[platform], platform, ["sleeper", "600"], mode=mode,  # type: ignore[arg-type]
                   cache_dir=BUILD, timeout=timeout)
    assert not result.passed and result.exit_code is None
    expected = (f"no result within {timeout} s (killed)" if mode == "chroot"
                else f"no result from the guest within {timeout} s")
    assert result.reason == expected
    assert result.seconds < 60  # the command was killed, not waited for


def test_smoke_from_oci_layout(rootfs: dict[Platform, Path], tmp_path: Path) -> None:
    config = ImageConfig(entrypoint=("/usr/bin/hello",), cmd=("from-image",),
                         env=("PATH=/usr/bin",), workdir="/usr")
    layout = tmp_path / "image"
    write_oci_layout(layout, [PlatformImage(p, rootfs[p]) for p in (AMD64, ARM64)],
                     source_date_epoch=1_700_000_000, config=config)
    for platform, mode in ((AMD64, "chroot"), (ARM64, "chroot"), (ARM64, "system")):
        result = smoke(layout, platform, mode=mode,  # type: ignore[arg-type]
                       expect_output=rf"on {platform.machine} \(1 args\)\narg 1: from-image",
                       cache_dir=BUILD, timeout=180)
        assert result.passed, f"{platform} {mode}: {result.reason}\n{result.log}"
        assert result.command == ("/usr/bin/hello", "from-image")
    broken = _variant(rootfs[AMD64], tmp_path / "broken", f"{_libdir(AMD64)}/libc.so.6")
    write_oci_layout(tmp_path / "broken-image", [PlatformImage(AMD64, broken)],
                     source_date_epoch=1_700_000_000, config=config)
    result = smoke(tmp_path / "broken-image", AMD64, mode="system", cache_dir=BUILD,
                   timeout=180)
    assert not result.passed
    assert "error while loading shared libraries: libc.so.6" in result.reason


def test_bad_input_messages(rootfs: dict[Platform, Path], tmp_path: Path) -> None:
    root = rootfs[AMD64]
    with pytest.raises(SmokeSetupError, match=r"smoke run of .*: unknown mode 'vm'"):
        smoke(root, AMD64, ["hello"], mode="vm")  # type: ignore[arg-type]
    with pytest.raises(SmokeSetupError, match=r"expected output regex '\(': missing \)"):
        smoke(root, AMD64, ["hello"], expect_output="(")
    with pytest.raises(SmokeSetupError, match=r"smoke run of .*nope: not a rootfs directory"):
        smoke(tmp_path / "nope", AMD64, ["hello"])
    with pytest.raises(SmokeSetupError, match=r"no command given and none in the image config"):
        smoke(root, AMD64, [])
    with pytest.raises(BuildError, match=r"kernel .*missing-vmlinuz: no such file"):
        smoke(root, AMD64, ["hello"], mode="system", kernel=tmp_path / "missing-vmlinuz",
              cache_dir=BUILD)
    with pytest.raises(BuildError, match=r"OCI layout .*: no image for platform linux/arm64"):
        layout = tmp_path / "amd64-only"
        write_oci_layout(layout, [PlatformImage(AMD64, root)], source_date_epoch=0,
                         config=ImageConfig())
        smoke(layout, ARM64, ["hello"])


def test_initramfs_is_reproducible_newc(rootfs: dict[Platform, Path], tmp_path: Path) -> None:
    harness = build_harness(ARM64, BUILD / "harness")
    first = write_initramfs(rootfs[ARM64], harness, tmp_path / "a.cpio.gz", ["hello", "x"],
                            env=["PATH=/usr/bin"])
    second = write_initramfs(rootfs[ARM64], harness, tmp_path / "b.cpio.gz", ["hello", "x"],
                             env=["PATH=/usr/bin"])
    assert first.read_bytes() == second.read_bytes()
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=gzip.decompress(first.read_bytes()),
                             capture_output=True, check=True).stdout.decode().splitlines()
    assert {".smoke/init", ".smoke/argv", "dev/console", "usr/bin/hello",
            "lib/ld-linux-aarch64.so.1"} <= set(listing)
    with pytest.raises(BuildError, match=r"initramfs .*c.cpio.gz: empty command"):
        write_initramfs(rootfs[ARM64], harness, tmp_path / "c.cpio.gz", [])
    assert not list(tmp_path.glob("c.cpio.gz*"))


def test_binfmt_handler_has_fix_binary_flag() -> None:
    assert ensure_binfmt(AMD64) is None  # native: nothing to register
    handler = ensure_binfmt(ARM64)
    assert handler is not None and handler.enabled and "F" in handler.flags
    assert handler.name == "qemu-aarch64"


def test_binfmt_errors_are_explained(tmp_path: Path) -> None:
    fake = tmp_path / "binfmt"
    fake.mkdir()
    (fake / "register").write_text("")
    (fake / "qemu-aarch64").write_text(
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: P\noffset 0\n")
    assert read_handler("qemu-aarch64", fake) is not None
    with pytest.raises(SmokeSetupError, match=r"binfmt handler qemu-aarch64 lacks the F "
                                              r"\(fix-binary\) flag \(flags 'P'\)"):
        ensure_binfmt(ARM64, fake)
    # As an ordinary user, an unmounted binfmt_misc cannot be fixed: try in a child
    # that dropped root (the modules are already imported, so it needs no files).
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_end)
        message = "no error"
        try:
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            ensure_binfmt(ARM64, tmp_path / "unmounted")
        except Exception as exc:  # noqa: BLE001 - any error must reach the parent
            message = str(exc)
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        message = reader.read().decode()
    os.waitpid(pid, 0)
    assert message == (f"binfmt_misc is not mounted at {tmp_path / 'unmounted'} and "
                       "mounting it needs root")


def test_debian_download_errors_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"download of no-such-package-sdfgen \(amd64\): "
                                         r"apt-get failed: E: Unable to locate package"):
        download_debs(["no-such-package-sdfgen"], "amd64", tmp_path / "debs",
                      state_root=BUILD / "apt" / "amd64")
    assert [p.name for p in (tmp_path / "debs").iterdir()] == []  # no partial download left
    fake = tmp_path / "fake.deb"
    fake.write_text("not a deb")
    with pytest.raises(BuildError, match=r"fake.deb: dpkg-deb -x failed: .*"):
        extract_deb(fake, tmp_path / "out")
    with pytest.raises(BuildError, match=r"fake.deb: cannot extract ./boot/vmlinuz-\*: "):
        extract_deb(fake, tmp_path / "out", ["./boot/vmlinuz-*"])
