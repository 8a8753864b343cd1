"""Image references for the docker archives: ``--tag`` checked, one tag per platform.

Every platform's archive gets a tag of its own, so loading the amd64 and the arm64
archive into one docker or podman store keeps both tagged (with one shared tag the
second load would take it from the first). The default repository,
``localhost/sdfgen/NAME``, names a registry no image is ever pulled from, so a
loaded image can never stand in for a public one of the same name (``python:latest``
is Docker Hub's). The grammar is distribution/reference's, the one docker and
podman parse.
"""

from __future__ import annotations

import re

from builder.errors import BuildError
from builder.platform import Platform

DEFAULT_REPOSITORY = "localhost/sdfgen/{name}"
DEFAULT_TAG = "latest"
ARCH_FIELD = "{arch}"
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
MAX_NAME = 255


def split_reference(reference: str) -> tuple[str, str]:
    """``REPO[:TAG]`` -> (repository, tag); the tag may hold ``{arch}``. Raises BuildError.

    The repository is checked against docker's grammar: an optional registry host
    (a first component with a '.' or ':', or ``localhost``) and lower-case path
    components; a digest (``@sha256:...``) is refused, an archive's tag cannot be one.
    """
    if "@" in reference:
        raise BuildError(f"image reference {reference!r}: a digest cannot be a tag; give "
                         "REPOSITORY[:TAG]")
    last = reference.rsplit("/", 1)[-1]
    repository, tag = (reference.rsplit(":", 1) if ":" in last else (reference, DEFAULT_TAG))
    components = repository.split("/")
    first = components[0]
    has_domain = len(components) > 1 and ("." in first or ":" in first or first == "localhost")
    path = components[1:] if has_domain else components
    problems = []
    if has_domain and not _DOMAIN.fullmatch(first):
        problems.append(f"{first!r} is not a registry host")
    bad = [c for c in path if not _COMPONENT.fullmatch(c)]
    if bad or not path:
        problems.append("each part of the repository name is lower-case letters and digits "
                        "separated by '.', '_', '__' or '-'")
    if len(repository) > MAX_NAME:
        problems.append(f"the repository name is longer than {MAX_NAME} characters")
    if not _TAG.fullmatch(_fill(tag, "arm64")):
        problems.append(f"tag {tag!r} with the platform added is not 1-128 letters, digits, "
                        "'_', '.' or '-' (not starting with '.' or '-')")
    if problems:
        raise BuildError(f"image reference {reference!r}: {'; '.join(problems)}")
    return repository, tag


def default_reference(name: str) -> str:
    """The reference a build of image ``name`` uses without ``--tag``."""
    return f"{DEFAULT_REPOSITORY.format(name=name)}:{DEFAULT_TAG}"


def _fill(tag: str, arch: str) -> str:
    return tag.replace(ARCH_FIELD, arch) if ARCH_FIELD in tag else f"{tag}-{arch}"


def platform_tag(reference: str, platform: Platform) -> str:
    """The docker archive tag of ``platform``: ``{arch}`` in the tag filled in, else ``-ARCH``
    appended (``localhost/sdfgen/base:latest`` -> ``localhost/sdfgen/base:latest-arm64``).

    Raises BuildError for a reference :func:`split_reference` refuses.
    """
    repository, tag = split_reference(reference)
    return f"{repository}:{_fill(tag, platform.architecture)}"
