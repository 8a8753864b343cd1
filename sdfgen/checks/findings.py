"""Findings: problems ``sdfgen check`` found in SDFs, as data with a stable id.

Like rpmlint's ``add_info('E', pkg, 'issue-id', detail)``: each check emits findings,
never exceptions; ``sdfgen/checks/README.md`` explains every id. A finding prints as one
line, ``FILE:LINE: E: id message``, sortable by file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """E: the SDF is wrong (exit 1); W: suspicious or not checkable, worth a look."""

    ERROR = "E"
    WARNING = "W"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one SDF file; ``line`` is 1-based, 0 when it concerns the whole file."""

    file: str
    line: int
    severity: Severity
    id: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity.value}: {self.id} {self.message}"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of the finding."""
        return {"id": self.id, "severity": self.severity.value, "file": self.file,
                "line": self.line, "message": self.message}


def has_errors(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    """Whether any finding is an error."""
    return any(f.severity is Severity.ERROR for f in findings)
