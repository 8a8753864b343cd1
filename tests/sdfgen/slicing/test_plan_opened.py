"""A package's own left-out files that its programs open by name join their slice."""

from __future__ import annotations

from sdfgen.facts import ElfInfo, FileKind, PackageFile
from sdfgen.roles.features import PackageContext
from sdfgen.roles.labels import Role
from sdfgen.roles.model import Decision
from sdfgen.slicing.plan import include_opened, plan_slices

BIN = PackageFile("/usr/bin/widget", FileKind.FILE, 0o755,
                  elf=ElfInfo(elf_type="ET_DYN", paths=("/var/lib/widget/db",)))
DB = PackageFile("/var/lib/widget/db", FileKind.FILE, 0o644)
TEST = PackageFile("/usr/lib/python3.11/test/data.txt", FileKind.FILE, 0o644)


def _decide(path: str, package: str, file: PackageFile, context: PackageContext) -> Decision:
    if path.startswith("/usr/bin/"):
        return Decision(Role.BINS, "rules", "executable")
    return Decision(Role.LEFT_OUT, "rules", "state directory (made at run time)")


def test_an_opened_own_file_joins_the_opening_slice() -> None:
    plan = plan_slices("widget", {"x86_64": [BIN, DB, TEST]}, _decide)
    assert plan.slice_of("x86_64", DB.path) is None
    opened = include_opened(plan, [("x86_64", BIN.path, DB.path),
                                   ("x86_64", BIN.path, TEST.path)])
    assert opened.slice_of("x86_64", DB.path) == "bins"
    assert opened.choices["x86_64"][DB.path].comment == (
        "opened by widget: a path in its strings")
    assert opened.members("bins") == {"x86_64": {BIN.path, DB.path}}
    # A test suite stays out whatever names it; nothing opened: the same plan back.
    assert opened.slice_of("x86_64", TEST.path) is None
    assert include_opened(plan, []) is plan
