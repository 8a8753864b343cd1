"""The checks of ``sdfgen check``, one module per family (rpmlint-style).

Each module has ``IDS`` (finding id -> severity) and ``run(context)`` yielding findings;
``README.md`` here documents every id. :data:`CHECKS` lists them in run order.
"""

from __future__ import annotations

from sdfgen.checks import deps, elf, paths, schema
from sdfgen.checks.base import CheckContext, PackageSource
from sdfgen.findings import Severity

CHECKS = (schema, deps, paths, elf)

SEVERITIES: dict[str, Severity] = {}
for _module in CHECKS:
    SEVERITIES.update(_module.IDS)

__all__ = ["CHECKS", "SEVERITIES", "CheckContext", "PackageSource"]
