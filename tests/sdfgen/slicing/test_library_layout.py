"""Language-runtime layout conventions (sdfgen.slicing.layout)."""

from __future__ import annotations

import pytest

from sdfgen.slicing.layout import extension_slice, not_for_runtime, unversioned


@pytest.mark.parametrize(("name", "expected"), [
    ("python3.11", "python3"), ("pydoc3.11", "pydoc3"), ("gcc-12", "gcc"),
    ("engines-3", "engines"), ("python3", "python3"), ("sha256sum", "sha256sum"),
    ("2to3-3.11", "2to3"), ("lib-dynload", "lib-dynload"), ("3.11", "3.11"),
])
def test_unversioned(name: str, expected: str) -> None:
    assert unversioned(name) == expected


@pytest.mark.parametrize(("path", "reason"), [
    ("/usr/lib/python3.11/test/support/__init__.py", "test suite"),
    ("/usr/lib/python3/dist-packages/foo/tests/test_x.py", "test suite"),
    ("/usr/lib/python3.11/idlelib/idle_test/htest.py", "test suite"),
    ("/usr/lib/python3.11/ensurepip/_bundled/pip-23.0.1-py3-none-any.whl", "template"),
    ("/usr/lib/python3.11/venv/scripts/common/activate", "template"),
    ("/usr/lib/python3.11/distutils/command/wininst-14.0.exe", "Windows"),
    ("/usr/lib/python3.11/msilib/__init__.py", "Windows"),
    ("/usr/lib/python3.11/unittest/case.py", None),
    ("/usr/lib/python3.11/venv/__init__.py", None),
    ("/usr/share/doc/foo/tests/readme", None),  # not a language tree: the rules decide
    ("/usr/lib/x86_64-linux-gnu/tests/libx.so", None),
])
def test_not_for_runtime(path: str, reason: str | None) -> None:
    found = not_for_runtime(path)
    assert (found is None) if reason is None else (found is not None and reason in found)


@pytest.mark.parametrize(("path", "slice_"), [
    ("/usr/lib/python3.11/lib-dynload/_dbm.cpython-311-x86_64-linux-gnu.so", "dbm"),
    ("/usr/lib/python3.11/lib-dynload/nis.cpython-311-aarch64-linux-gnu.so", "nis"),
    ("/usr/lib/python3.11/lib-dynload/_curses_panel.cpython-311-x86_64-linux-gnu.so",
     "curses"),
    ("/usr/lib/python3.11/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
     "test-modules"),
    ("/usr/lib/python3.11/lib-dynload/xxlimited_35.cpython-311-x86_64-linux-gnu.so",
     "test-modules"),
    ("/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", None),
    ("/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so", None),
    ("/usr/lib/x86_64-linux-gnu/gconv/_dbm.so", None),
])
def test_extension_slice(path: str, slice_: str | None) -> None:
    assert extension_slice(path) == slice_
