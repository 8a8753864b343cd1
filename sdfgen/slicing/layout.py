"""Layout conventions of language runtimes that decide slices beyond a file's role.

- Files no program needs at run time, left out whatever their role: a language's test
  suites (``test/``, ``*/tests/``, ``idlelib/idle_test/``), the wheels and templates
  ``ensurepip`` and ``venv`` copy into new environments, Windows-only files (``*.exe``,
  ``*.bat``, ``msilib``).
- Python extension modules (``lib-dynload``): the common ones stay in the directory's
  slice, which an interpreter's slice depends on; heavy optional ones (dbm, nis, curses,
  readline, tkinter) and the test modules get their own slices, so an image has them
  (and libdb, the krb5 stack, ncurses, Tk) only when it names them.
- Slice names carry no version: ``python3.11`` and ``pydoc3.11`` name slices ``python3``
  and ``pydoc3``, so a Distrofile naming them survives the next minor version.

Pure: paths in, names and reasons out.
"""

from __future__ import annotations

import posixpath
import re

# A language's library tree: test suites and the like below it are never run by images.
_LANGUAGE_TREE = re.compile(
    r"^/usr/(?:local/)?(?:lib|lib64|share)/(?:[a-z0-9_]+-linux-gnu[a-z0-9_]*/)?"
    r"(?:python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|perl-base|ruby|lua|tcl[0-9.]*|node)/")
_TEST_DIRS = frozenset({"test", "tests", "idle_test"})
_ENSUREPIP = re.compile(r"/ensurepip/_bundled/|/venv/scripts/")
_WINDOWS = re.compile(r"\.(?:exe|bat|cmd|dll|ps1)$|/msilib/|/_msi[^/]*$", re.IGNORECASE)

# Why not_for_runtime leaves a file out (the footer's headings).
TEST_SUITE = "test suite (not needed at run time)"
TEMPLATE = "template copied into new environments (ensurepip, venv)"
WINDOWS_ONLY = "Windows-only file"
REASONS = (TEST_SUITE, TEMPLATE, WINDOWS_ONLY)

_EXTENSION_DIR = "/lib-dynload/"
# Extension module name (before ".cpython-..."/".abi3"/".so") -> its optional slice.
OPTIONAL_EXTENSIONS = {
    "_dbm": "dbm", "_gdbm": "dbm",
    "nis": "nis",
    "_curses": "curses", "_curses_panel": "curses",
    "readline": "readline",
    "_tkinter": "tkinter",
}
# Test modules of CPython's build: never imported by a program.
_TEST_EXTENSION = re.compile(r"^(?:_test|_xxtest|xxlimited|xxsubtype|_ctypes_test)")
TEST_EXTENSIONS_SLICE = "test-modules"

# A version at the end of a name derived from a file name: "3.11" of python3.11 keeps the
# major digit glued to the word (python3), "-12" of gcc-12, ".4" of lua5.4.
_VERSION_SUFFIX = re.compile(r"(?<=[a-z0-9])(?:[.-][0-9]+)+$")


def not_for_runtime(path: str) -> str | None:
    """Why ``path`` is left out of every slice whatever its role (None: it is not)."""
    if _LANGUAGE_TREE.match(path):
        inner = path.split("/")[:-1]
        if _TEST_DIRS.intersection(inner):
            return TEST_SUITE
        if _ENSUREPIP.search(path):
            return TEMPLATE
        if _WINDOWS.search(path):
            return WINDOWS_ONLY
    return None


def extension_slice(path: str) -> str | None:
    """The optional slice of a Python extension module, or None for a common one."""
    if _EXTENSION_DIR not in path:
        return None
    module = posixpath.basename(path).split(".", 1)[0]
    if _TEST_EXTENSION.match(module):
        return TEST_EXTENSIONS_SLICE
    return OPTIONAL_EXTENSIONS.get(module)


def unversioned(name: str) -> str:
    """``name`` without a trailing version (``python3.11`` -> ``python3``); a name that is
    only a version stays as it is."""
    stripped = _VERSION_SUFFIX.sub("", name)
    return stripped if re.search(r"[a-z]", stripped) else name


def library_dirs(executable: str) -> tuple[str, ...]:
    """Where an interpreter called like ``executable`` keeps the library it starts with:
    ``/usr/bin/python3.11`` -> ``/usr/lib/python3.11/`` (and the lib64, share and
    multiarch spellings; the caller keeps those the package has)."""
    name = posixpath.basename(executable)
    return (f"/usr/lib/{name}/", f"/usr/lib64/{name}/", f"/usr/share/{name}/")
