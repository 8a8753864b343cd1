"""RootWriter: every refusal that keeps a build inside its root, on a real file system."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.rootwriter import RootWriter, split_path, symlink_escapes

OWNER = {"uid": 0, "gid": 0, "mtime": 1_700_000_000}


@pytest.fixture()
def writer(tmp_path: Path) -> RootWriter:
    root_writer = RootWriter(tmp_path / "root")
    yield root_writer
    root_writer.close()


def _file(writer: RootWriter, path: str, data: bytes = b"x", mode: int = 0o644,
          origin: str = "a.rpm") -> None:
    writer.write_file(path, io.BytesIO(data), mode=mode, origin=origin, **OWNER)


@pytest.mark.parametrize("path", ["/usr/../etc/passwd", "/usr/./bin/x", "/usr//bin", "rel/x"])
def test_paths_that_could_escape_are_refused(path: str, writer: RootWriter) -> None:
    with pytest.raises(BuildError, match="image path"):
        _file(writer, path)


def test_symlink_escape_detection() -> None:
    assert symlink_escapes("/usr/lib/x", "../../../etc/passwd")
    assert not symlink_escapes("/usr/lib/x", "../../etc/passwd")  # /etc/passwd in the image
    assert not symlink_escapes("/usr/lib/x", "/etc/passwd")  # absolute: image-relative
    assert split_path("/") == []


def test_relative_symlink_above_root_is_refused(writer: RootWriter, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="points outside the image root"):
        writer.symlink("/usr/lib/evil", "../../../outside", origin="evil.rpm", **OWNER)
    assert not (tmp_path / "root" / "usr" / "lib" / "evil").exists()


def test_never_writes_through_a_symlink(writer: RootWriter, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # An absolute link is legal in an image (it is resolved inside it at run time) ...
    writer.symlink("/etc", str(outside), origin="a.rpm", **OWNER)
    # ... but the builder never follows it on the host while writing.
    with pytest.raises(BuildError):
        _file(writer, "/etc/passwd", b"root::0:0::/:/bin/sh\n", origin="b.rpm")
    with pytest.raises(BuildError):
        writer.mkdir("/etc/sub", mode=0o755, origin="b.rpm", **OWNER)
    assert list(outside.iterdir()) == []


def test_second_writer_is_named(writer: RootWriter) -> None:
    _file(writer, "/usr/bin/tool", origin="first.rpm")
    with pytest.raises(BuildError, match="first.rpm"):
        _file(writer, "/usr/bin/tool", origin="second.rpm")


def test_modes_setuid_hardlinks_and_dir_times(writer: RootWriter, tmp_path: Path) -> None:
    writer.mkdir("/usr", mode=0o755, origin="fs", **OWNER)
    writer.mkdir("/usr/bin", mode=0o755, origin="fs", **OWNER)
    _file(writer, "/usr/bin/su", b"elf", mode=0o4755)
    writer.hardlink("/usr/bin/su2", "/usr/bin/su", origin="a.rpm")
    writer.finish()
    root = tmp_path / "root"
    st = os.lstat(root / "usr/bin/su")
    assert stat.S_IMODE(st.st_mode) == 0o4755 and st.st_nlink == 2
    assert st.st_ino == os.lstat(root / "usr/bin/su2").st_ino
    assert os.lstat(root / "usr/bin").st_mtime == OWNER["mtime"]
