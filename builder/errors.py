"""Exceptions of the image and smoke-run back end of the builder.

Failures of the tool or of the machine (no QEMU, not root, an apt download that
failed) are exceptions with a one-line message; a command that fails inside a smoke
run is not an exception but a ``SmokeResult`` with ``passed=False``.
"""

from __future__ import annotations

from sdfgen.errors import SdfgenError


class BuildError(SdfgenError):
    """An image, kernel, initramfs or harness could not be built or read."""


class SmokeSetupError(BuildError):
    """A smoke run could not be started: missing tool, not root, binfmt_misc unavailable."""
