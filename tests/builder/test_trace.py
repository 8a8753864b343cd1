"""``builder trace``: the strace/QEMU log parser on real lines, the mapping of calls to
image paths, and real traces of images built from the sample repository (served over
HTTP on 127.0.0.1), in chroots on linux/amd64 and linux/arm64 (binfmt_misc).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from builder.oci_read import unpack_image
from builder.platform import AMD64, ARM64, Platform
from builder.strace import parse_lines, path_of
from builder.trace import (
    Access,
    PlatformTrace,
    Shipper,
    TracedPath,
    image_accesses,
    judge,
    trace_build,
)
from builder.tracereport import missing_by_directory, render_table, trace_json
from sdfgen.rpm.session import RepoOptions

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
PLATFORMS = [pytest.param(AMD64, id="amd64"), pytest.param(ARM64, id="arm64")]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")

# Real lines: strace 6.1 -f -y (x86_64 host, tracing qemu-aarch64 for the arm64 ones)
# and qemu-aarch64 7.2 with QEMU_STRACE=1.
STRACE_LINES = """\
2437  chroot("/tmp/r")                 = 0
2437  chdir("/tmp")                     = 0
2437  openat(AT_FDCWD</tmp/r/tmp>, "/lib/ld-linux-aarch64.so.1", O_RDONLY) = 3</tmp/r/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1>
2437  access("/etc/qemu-binfmt/aarch64/usr/lib/ssl/openssl.cnf", F_OK) = -1 ENOENT (No such file or directory)
2437  newfstatat(AT_FDCWD</tmp/r/tmp>, "/lib/aarch64-linux-gnu/tls", 0x7ffc0a1804c0, 0) = -1 ENOENT (No such file or directory)
2437  newfstatat(3</tmp/r/usr/lib/ssl/openssl.cnf>, "", {st_mode=S_IFREG|0644, st_size=12332, ...}, AT_EMPTY_PATH) = 0
2437  chdir("/usr")                     = 0
2437  vfork( <unfinished ...>
2414  execve("/usr/bin/python3", ["python3", "-c", "import ssl; print(ssl.OPENSSL_VE"...], 0x7ffd34b73498 /* 38 vars */ <unfinished ...>
2437  <... vfork resumed>)              = 2414
2414  <... execve resumed>)             = 0
2414  readlink("bin/python3", "python3.11", 4096) = 10
2414  openat(AT_FDCWD</tmp/r/usr>, "lib/a\\303\\251 \\"x\\", (y)", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4</tmp/r/usr/lib/a\\303\\251 "x", (y)>
2414  +++ exited with 0 +++
"""  # noqa: E501 (real lines)
QEMU_LINES = """\
31441 faccessat(AT_FDCWD,"/etc/ld.so.preload",R_OK,AT_SYMLINK_NOFOLLOW|0x6474e452) = -1 errno=2 (No such file or directory)
31441 openat(AT_FDCWD,"/usr/lib/aarch64-linux-gnu/libssl.so.3",O_RDONLY|O_CLOEXEC) = 3
OPENSSLDIR: "/usr/lib/ssl"
31441 newfstatat(AT_FDCWD,"/lib/aarch64-linux-gnu",0x00000055028f9830,0) = 0
"""  # noqa: E501 (real lines)


def test_strace_lines_parse_with_resumed_calls_and_escapes() -> None:
    calls = list(parse_lines(STRACE_LINES.splitlines()))
    assert [c.name for c in calls] == ["chroot", "chdir", "openat", "access", "newfstatat",
                                       "newfstatat", "chdir", "vfork", "execve", "readlink",
                                       "openat"]
    opened = calls[2]
    assert opened.result == 3 and opened.fd_path == \
        "/tmp/r/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"
    arg = path_of(opened)
    assert arg is not None and (arg.path, arg.op, arg.dirfd, arg.base) == (
        "/lib/ld-linux-aarch64.so.1", "open", "AT_FDCWD", "/tmp/r/tmp")
    assert (calls[4].result, calls[4].errno, calls[4].ok) == (-1, "ENOENT", False)
    assert path_of(calls[5]) is None  # a call on the fd itself (AT_EMPTY_PATH)
    assert calls[7].result == 2414 and calls[8].pid == 2414 and calls[8].ok
    weird = path_of(calls[10])
    assert weird is not None and weird.path == 'lib/aé "x", (y)'


def test_qemu_strace_lines_parse_too() -> None:
    calls = list(parse_lines(QEMU_LINES.splitlines()))
    assert [(c.name, c.result, c.errno) for c in calls] == [
        ("faccessat", -1, "ENOENT"), ("openat", 3, None), ("newfstatat", 0, None)]
    arg = path_of(calls[0])
    assert arg is not None and (arg.path, arg.op, arg.dirfd, arg.base) == (
        "/etc/ld.so.preload", "access", "AT_FDCWD", None)


def test_calls_become_image_paths_following_cwd_and_children() -> None:
    calls = list(parse_lines(STRACE_LINES.splitlines()))[1:]  # after the helper's chroot
    accesses, ignored = image_accesses(calls, Path("/tmp/r"), emulated=True)
    assert [(a.path, a.op, a.ok) for a in accesses] == [
        ("/tmp", "chdir", True),
        ("/lib/ld-linux-aarch64.so.1", "open", True),
        ("/lib/aarch64-linux-gnu/tls", "stat", False),
        ("/usr", "chdir", True),
        ("/usr/bin/python3", "exec", True),
        ("/usr/bin/python3", "readlink", True),  # relative: the child inherits /usr
        ('/usr/lib/aé "x", (y)', "open", True),
    ]
    assert ignored == {"qemu-user's own /etc/qemu-binfmt/ lookups": 1}


def test_paths_are_judged_against_the_untouched_image(tmp_path: Path) -> None:
    (tmp_path / "etc" / "ssl").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "ssl").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "ssl" / "openssl.cnf").symlink_to("/etc/ssl/openssl.cnf")
    (tmp_path / "usr" / "bin").mkdir()
    (tmp_path / "usr" / "bin" / "tool").write_text("")
    shipper = Shipper("openssl", "openssl-3.0-1.x86_64", "/etc/ssl/openssl.cnf",
                      "openssl_config", "openssl.yaml", False)
    asked: list[tuple[str, str]] = []

    def shippers(path: str, resolved: str) -> tuple[Shipper, ...]:
        asked.append((path, resolved))
        return (shipper,) if resolved == "/etc/ssl/openssl.cnf" else ()

    accesses = [Access("/usr/lib/ssl/openssl.cnf", "open", False, "ENOENT", 1),
                Access("/usr/bin/tool", "exec", True, None, 1),
                Access("/usr/bin/tool", "stat", True, None, 1),
                Access("/usr/lib/glibc-hwcaps/x86-64-v3/libz.so.1", "open", False, "ENOENT", 1),
                Access("/proc/self/exe", "readlink", False, "ENOENT", 1),
                Access("/tmp/out.txt", "open", True, None, 1)]
    judged = {p.path: p for p in judge(tmp_path, accesses, shippers)}
    assert judged["/usr/lib/ssl/openssl.cnf"] == TracedPath(
        "/usr/lib/ssl/openssl.cnf", "shipped", ("open",), 1, "ENOENT",
        "/etc/ssl/openssl.cnf", "/etc/ssl", (shipper,))
    assert (judged["/usr/bin/tool"].kind, judged["/usr/bin/tool"].ops,
            judged["/usr/bin/tool"].attempts) == ("present", ("exec", "stat"), 2)
    hwcaps = judged["/usr/lib/glibc-hwcaps/x86-64-v3/libz.so.1"]
    assert (hwcaps.kind, hwcaps.near) == ("missing", "/usr/lib")
    assert judged["/proc/self/exe"].kind == "runtime"
    assert judged["/tmp/out.txt"].kind == "created"
    assert ("/usr/lib/ssl/openssl.cnf", "/etc/ssl/openssl.cnf") in asked

    trace = PlatformTrace(AMD64, ("tool",), 0, "", 0.1, "", tuple(judged.values()))
    assert missing_by_directory(trace) == [
        {"directory": "/usr/lib", "count": 1, "examples": ["glibc-hwcaps/x86-64-v3/libz.so.1"]}]
    table = render_table(trace)
    assert "openssl_config (not in the image)" in table
    assert re.search(r"\n    /usr/lib +1 +glibc-hwcaps/x86-64-v3/libz\.so\.1\n", table), table
    document = trace_json("img", [trace])
    assert document["schema"] == "builder-trace" and document["schema_version"] == 1
    assert document["platforms"][0]["counts"] == {"shipped": 1, "present": 1, "missing": 1,
                                                  "runtime": 1, "created": 1}


# ---- real traces ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rpm-cache")


def _build(tmp_path_factory: pytest.TempPathFactory, spec: str, mirror: str,
           cache: Path) -> Path:
    out = tmp_path_factory.mktemp(spec) / "out"
    assert main(["build", str(SAMPLES / "distrofiles" / f"{spec}.yaml"), "-o", str(out),
                 "--sdf-dir", str(SAMPLES / "sdf"), "--mirror", mirror, "--cache-dir",
                 str(cache), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def openssl_image(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str,
                  cache: Path) -> Path:
    return _build(tmp_path_factory, "openssl", sample_mirror, cache)


@pytest.fixture(scope="module")
def python_image(tmp_path_factory: pytest.TempPathFactory, sample_mirror: str,
                 cache: Path) -> Path:
    return _build(tmp_path_factory, "python", sample_mirror, cache)


def _trace_json(capsys: pytest.CaptureFixture[str], image: Path, platform: Platform,
                mirror: str, cache: Path, *command: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["trace", str(image), "--platform", str(platform), "--json",
                 "--sdf-dir", str(SAMPLES / "sdf"), "--mirror", mirror,
                 "--cache-dir", str(cache), "--", *command]) == 0
    document = json.loads(capsys.readouterr().out)
    [result] = document["platforms"]
    assert result["platform"] == str(platform)
    return dict(result)


def _paths(result: dict[str, object]) -> dict[str, dict[str, object]]:
    return {p["path"]: p for p in result["paths"]}  # type: ignore[attr-defined]


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_openssl_trace_reports_config_as_present(
        openssl_image: Path, sample_mirror: str, cache: Path, platform: Platform,
        capsys: pytest.CaptureFixture[str]) -> None:
    result = _trace_json(capsys, openssl_image, platform, sample_mirror, cache,
                         "openssl", "version", "-d")
    assert result["exit_code"] == 0 and 'OPENSSLDIR: "/usr/lib/ssl"' in str(result["output"])
    paths = _paths(result)
    config = paths["/usr/lib/ssl/openssl.cnf"]
    assert (config["kind"], config["ops"], config["resolved"]) == (
        "present", ["open"], "/etc/ssl/openssl.cnf")
    assert paths["/usr/bin/openssl"]["kind"] == "present"
    assert "exec" in paths["/usr/bin/openssl"]["ops"]  # type: ignore[operator]
    loader = {AMD64: "/lib64/ld-linux-x86-64.so.2", ARM64: "/lib/ld-linux-aarch64.so.1"}[platform]
    assert paths[loader]["kind"] == "present" and "interp" in paths[loader]["ops"]  # type: ignore[operator]
    assert paths[f"/usr/lib/{platform.machine}-linux-gnu/libcrypto.so.3"]["kind"] == "present"
    # PATH search and the loader's probes are missing everywhere, summed up per directory.
    assert paths["/usr/local/bin/openssl"]["kind"] == "missing"
    groups = {g["directory"]: g["count"] for g in result["missing_by_directory"]}  # type: ignore[attr-defined]
    assert groups[f"/lib/{platform.machine}-linux-gnu"] >= 4
    assert result["counts"]["shipped"] == 0  # type: ignore[index]
    if platform == ARM64:
        ignored = result["ignored"]
        assert isinstance(ignored, dict) and ignored["qemu-user's own /etc/qemu-binfmt/ lookups"]
        assert not any(p.startswith("/etc/qemu-binfmt") for p in paths)


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_removed_files_show_as_missing_but_shipped_with_their_slice(
        openssl_image: Path, sample_mirror: str, cache: Path, platform: Platform,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pristine = tmp_path / "pristine"
    unpack_image(openssl_image, platform, pristine)
    root = tmp_path / "root"
    shutil.copytree(pristine, root, symlinks=True)
    libcrypto = f"/usr/lib/{platform.machine}-linux-gnu/libcrypto.so.3"
    (root / "etc/ssl/openssl.cnf").unlink()
    (root / libcrypto.lstrip("/")).unlink()
    options = RepoOptions(release="", mirror=sample_mirror, cache_dir=cache)
    command = ("/usr/bin/openssl", "version", "-d")
    [trace] = trace_build(root, command, platforms=[platform], repo=options,
                          sdf_dir=SAMPLES / "sdf")
    assert trace.exit_code == 127, trace.output
    assert "libcrypto.so.3: cannot open shared object file" in trace.output
    shipped = {p.path: p for p in trace.of_kind("shipped")}
    [crypto] = shipped[libcrypto].shipped_by
    assert (crypto.package, crypto.file, crypto.slice, crypto.sdf) == (
        "openssl-libs", libcrypto, "openssl-libs_libs", "openssl-libs.yaml")
    assert crypto.nevra.startswith("openssl-libs-3.0.") and crypto.nevra.endswith(
        f".{platform.machine}")
    assert not crypto.in_image  # a bare rootfs records no slices
    table = render_table(trace)
    assert "MISSING FROM THE IMAGE, SHIPPED BY A PACKAGE" in table
    assert re.search(rf"\n    {libcrypto} +open ", table)
    assert "openssl-libs_libs (not in the image)" in table

    # With the libraries back, openssl reads its config through the dangling symlink.
    shutil.copy2(pristine / libcrypto.lstrip("/"), root / libcrypto.lstrip("/"))
    [trace] = trace_build(root, command, platforms=[platform], repo=options,
                          sdf_dir=SAMPLES / "sdf")
    assert trace.exit_code == 0, trace.output
    config = {p.path: p for p in trace.paths}["/usr/lib/ssl/openssl.cnf"]
    assert (config.kind, config.resolved) == ("shipped", "/etc/ssl/openssl.cnf")
    assert [(s.package, s.file, s.slice) for s in config.shipped_by] == [
        ("openssl", "/etc/ssl/openssl.cnf", "openssl_config")]


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_trace_follows_children_and_their_cwd(
        python_image: Path, sample_mirror: str, cache: Path, platform: Platform,
        capsys: pytest.CaptureFixture[str]) -> None:
    child = "import ssl; open('lib/ssl/openssl.cnf'); print('child', ssl.OPENSSL_VERSION)"
    parent = ("import os, subprocess; os.chdir('/usr'); "
              f"subprocess.run(['python3', '-c', {child!r}])")
    result = _trace_json(capsys, python_image, platform, sample_mirror, cache,
                         "/usr/bin/python3", "-c", parent)
    assert result["exit_code"] == 0 and "child OpenSSL 3.0." in str(result["output"])
    paths = _paths(result)
    # Only the child, exec'd through PATH from /usr, opens _ssl and the relative config.
    assert paths["/usr/local/bin/python3"]["kind"] == "missing"
    ssl_module = [p for p in paths if p.startswith("/usr/lib/python3.11/lib-dynload/_ssl.")]
    assert ssl_module and paths[ssl_module[0]]["kind"] == "present"
    config = paths["/usr/lib/ssl/openssl.cnf"]
    assert config["kind"] == "present" and config["attempts"] == 2  # OpenSSL's and open()
    # glibc's gconv modules are shipped by glibc, but no slice of glibc.yaml has them.
    shipped = {p: v for p, v in paths.items() if v["kind"] == "shipped"}
    for entry in shipped.values():
        for shipper in entry["shipped_by"]:  # type: ignore[attr-defined]
            assert shipper["nevra"].endswith((f".{platform.machine}", ".noarch"))


def test_bad_inputs_are_one_line_errors(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(tmp_path / "nope"), "--platform", "linux/amd64", "--",
                 "true"]) == 2
    assert f"error: trace of {tmp_path / 'nope'}: not a rootfs directory or OCI layout" in \
        capsys.readouterr().err
    assert main(["trace", str(tmp_path), "--", "true"]) == 2
    assert f"error: {tmp_path}: no platforms recorded; pass --platform" in \
        capsys.readouterr().err
    (tmp_path / "build.json").write_text("{")
    assert main(["trace", str(tmp_path), "--", "true"]) == 2
    assert f"error: {tmp_path / 'build.json'}: unreadable build record" in \
        capsys.readouterr().err


@needs_root
@pytest.mark.slow
def test_a_command_not_in_the_image_is_traced_through_the_path_search(
        openssl_image: Path) -> None:
    [trace] = trace_build(openssl_image, ("nosuch", "-v"), platforms=[AMD64])
    assert trace.exit_code == 127
    assert "cannot execute nosuch: No such file or directory" in trace.output
    tried = {p.path: p.kind for p in trace.paths}
    assert tried["/usr/bin/nosuch"] == tried["/usr/local/bin/nosuch"] == "missing"
