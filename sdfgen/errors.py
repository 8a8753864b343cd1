"""Exceptions of sdfgen: failures of the tool or its inputs.

Problems found in the user's data (an SDF glob that matches nothing) are findings,
not exceptions. Every exception's message is one line that names the input (file,
URL, package) and the problem; the CLI prints it as ``error: MESSAGE`` and exits 2.
"""

from __future__ import annotations


class SdfgenError(Exception):
    """Base class: a failure with a one-line, user-facing message."""


class ConfigError(SdfgenError):
    """Bad command-line options or configuration files (.repo, Distrofile options)."""


class RepoError(SdfgenError):
    """A repository could not be read: unreachable, missing or malformed metadata."""


class ChecksumError(RepoError):
    """A downloaded file's checksum does not match the repository metadata."""


class PackageNotFoundError(SdfgenError):
    """No package of that name (or no provider of that capability) in the repositories."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class RpmError(SdfgenError):
    """An RPM file could not be read: bad lead/header, unknown or corrupt payload."""


class SdfError(SdfgenError):
    """An SDF file could not be read or edited (unreadable, not YAML)."""
