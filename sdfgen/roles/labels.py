"""File roles: which kind of slice a packaged file goes into, or that it is left out.

The proposer groups a package's files by role and makes one slice per role (named after
the role, or after the corpus slice name a sub-group came from). The roles:

``left-out``   not shipped in any slice: documentation, man and info pages, translations
               (``*.mo``), shell completions, lintian overrides, debug files, and
               development files (headers, static archives, ``*.pc``, cmake files,
               ``libfoo.so`` dev symlinks) of a package that is not a development package.
``copyright``  the license/copyright file(s): the ``{package}_copyright`` slice.
``libs``       shared libraries with a SONAME and their runtime symlinks (``libssl.so.3``);
               also library code of interpreted languages (a Python package under
               ``dist-packages``), because the corpus slices them as ``libs``.
``modules``    code loaded at run time by a host program: ELF plugins without SONAME in a
               library sub-directory (``engines-3/``, ``ossl-modules/``, ``gconv/``,
               ``lib-dynload/``, ``security/pam_*.so``) and interpreter modules (Erlang
               ``.beam``).
``bins``       executables (ELF with an interpreter, or files in a ``bin``/``sbin``/
               ``libexec`` directory).
``scripts``    executables that are scripts (a shebang): kept apart from ``bins`` because
               they need their interpreter's slice.
``config``     configuration: ``/etc``, RPM ``%config`` files, and the vendor configuration
               directories (systemd units, tmpfiles.d, sysusers.d, pam.d, udev rules, ...).
``data``       architecture-independent data the programs read: ``/usr/share/<pkg>``,
               fonts, zoneinfo, mime databases, certificates.
``locale``     locale definitions (``/usr/lib/locale``, ``/usr/share/i18n``, X11 locale
               data) that a human put in a ``locale`` slice.
``dev``        development files *of a development package* (``-dev``/``-devel``): there
               they are the point of the package and go into a ``headers``/``dev`` slice.

:func:`role_for_slice` maps the corpus' free-text slice names to roles (see
``NAME_ROLES`` for the decisions). A name that says what its files are (``libs``,
``bins``, ``config``, ``copyright``, ``headers``, ...) decides the role. A topical name
(``core``, ``standard``, tzdata's ``africa``, util-linux's ``block-devices``, Python's
stdlib groups) says nothing about the kind of its files, so the role of such a file is the
one its path implies (:func:`path_implied_role`: bin dir -> bins, shared object -> libs,
``/etc`` -> config, headers -> dev, otherwise data). The original slice name is kept in
:class:`SliceLabel` so the proposer can name sub-slices after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The kind of slice a file goes into (``LEFT_OUT``: none)."""

    LEFT_OUT = "left-out"
    COPYRIGHT = "copyright"
    LIBS = "libs"
    MODULES = "modules"
    BINS = "bins"
    SCRIPTS = "scripts"
    CONFIG = "config"
    DATA = "data"
    LOCALE = "locale"
    DEV = "dev"

    @property
    def included(self) -> bool:
        """True for every role that puts the file in some slice."""
        return self is not Role.LEFT_OUT


@dataclass(frozen=True)
class SliceLabel:
    """A corpus file's role, with the human's slice name (None when left out)."""

    role: Role
    slice_name: str | None


# Names that say what their files are. Decisions worth explaining:
# - "runtime" holds crt*.o startup objects (libc6-dev, libgcc-dev): development files.
# - "ldscripts" are the linker's data, read by ld at run time: data.
# - "jars", "wheels", "rubygems" are library code of a language runtime: libs.
# - "system-services", "dbus-*", "polkit", "udev-rules", "*-config", "profiles"
#   (AppArmor profiles) are configuration the system reads: config.
# - tzdata regions are topical and fall through to the path (zoneinfo -> data).
NAME_ROLES: dict[str, Role] = {
    "copyright": Role.COPYRIGHT,
    "libs": Role.LIBS,
    "jars": Role.LIBS,
    "wheels": Role.LIBS,
    "rubygems": Role.LIBS,
    "modules": Role.MODULES,
    "qdisc": Role.MODULES,
    "cls": Role.MODULES,
    "audit": Role.MODULES,
    "bins": Role.BINS,
    "utils": Role.BINS,
    "tools": Role.BINS,
    "scripts": Role.SCRIPTS,
    "extra-scripts": Role.SCRIPTS,
    "py3compile": Role.SCRIPTS,
    "py3versions": Role.SCRIPTS,
    "cli-helpers": Role.BINS,
    "config": Role.CONFIG,
    "profiles": Role.CONFIG,
    "security": Role.CONFIG,
    "system-services": Role.CONFIG,
    "user-services": Role.CONFIG,
    "services": Role.CONFIG,
    "dbus-interfaces": Role.CONFIG,
    "dbus-services": Role.CONFIG,
    "polkit": Role.CONFIG,
    "udev-rules": Role.CONFIG,
    "system-generators": Role.BINS,
    "network": Role.CONFIG,
    "pcrlock": Role.CONFIG,
    "resources": Role.CONFIG,
    "data": Role.DATA,
    "fonts": Role.DATA,
    "encodings": Role.DATA,
    "catalog": Role.DATA,
    "tables": Role.DATA,
    "ldscripts": Role.DATA,
    "classcache": Role.DATA,
    "class-data-sharing": Role.DATA,
    "locale": Role.LOCALE,
    "locales": Role.LOCALE,
    "i18n": Role.LOCALE,
    "headers": Role.DEV,
    "linux-headers": Role.DEV,
    "asm-headers": Role.DEV,
    "jni-headers": Role.DEV,
    "debug-headers": Role.DEV,
    "runtime": Role.DEV,
}

# Name patterns for families of names ("tmpfiles-config", "pam-profiles", "lib*").
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], Role], ...] = (
    (re.compile(r"(^|-)(config|configs|defaults|profiles?|rules|parameters)$"), Role.CONFIG),
    (re.compile(r"(^|-)headers$"), Role.DEV),
    (re.compile(r"(^|-)(plugins|addons)$"), Role.MODULES),
    (re.compile(r"(^|-)(libs?|lib[a-z0-9]+)$"), Role.LIBS),
    (re.compile(r"(^|-)scripts$"), Role.SCRIPTS),
    (re.compile(r"(^|-)bins$"), Role.BINS),
)

_BIN_DIR = re.compile(r"/(s?bin|libexec)/")
_SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")
_DEV_FILE = re.compile(r"(^/usr/include/|/include/.*\.h$|\.(h|hpp|a|o|pc)$)")


def role_for_slice(slice_name: str | None, path: str) -> SliceLabel:
    """The role of a corpus file at ``path`` that a human put in ``slice_name`` (None: left out)."""
    if slice_name is None:
        return SliceLabel(Role.LEFT_OUT, None)
    name = slice_name.strip().lower()
    role = NAME_ROLES.get(name)
    if role is None:
        for pattern, candidate in _NAME_PATTERNS:
            if pattern.search(name):
                role = candidate
                break
    if role is None:
        role = path_implied_role(path)
    return SliceLabel(role, slice_name)


def path_implied_role(path: str) -> Role:
    """The role a path implies for a file in a topically named slice (``core``, ``africa``)."""
    if _BIN_DIR.search(path):
        return Role.BINS
    if _SHARED_OBJECT.search(path):
        return Role.LIBS
    if _DEV_FILE.search(path):
        return Role.DEV
    if path.startswith("/etc/"):
        return Role.CONFIG
    if "/locale/" in path or path.startswith("/usr/share/i18n/"):
        return Role.LOCALE
    return Role.DATA
