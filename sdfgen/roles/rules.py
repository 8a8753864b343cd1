"""Hand-written rules that give a packaged file its role, from its facts or its path.

Facts decide where the RPM header and the ELF reader give them (``%license``, ``%doc``,
``%config`` flags; symlink targets; SONAME, ELF type and interpreter; a script's shebang).
Without facts the path decides: FHS locations, Debian multiarch and openEuler ``lib64``
library directories, file name patterns. Each decision says whether the rules are
``confident`` (the proposer takes it as is) or guessing (the proposer asks the learned
model, see ``sdfgen.roles.model``), and carries a short reason a YAML comment can show.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from sdfgen.facts import FileFlag, FileKind, PackageFile
from sdfgen.roles.labels import Role

# Directories that hold shared libraries: FHS, openEuler lib64, Debian multiarch.
_LIB_DIR = r"(?:/usr)?/lib(?:32|64|x32)?(?:/[a-z0-9_]+-linux-gnu[a-z0-9_]*)?"
_LIB_DIR_RE = re.compile(rf"^{_LIB_DIR}$")
_MULTIARCH = re.compile(r"/[a-z0-9_]+-linux-gnu[a-z0-9_]*(?=/|$)")
_BIN_DIR_RE = re.compile(r"^(?:/usr(?:/local)?)?/s?bin$")
_LIBEXEC = re.compile(r"^/usr/libexec/|/(?:s?bin)/[^/]+$")
_VERSIONED_SO = re.compile(r"^(lib[^/]*?|ld-[^/]*?)\.so\.\d[\w.]*$|^lib[^/]*-\d[\w.~+-]*\.so$")
_UNVERSIONED_LIB = re.compile(r"^lib[^/]*\.so$")
_SHARED_OBJECT = re.compile(r"\.so(?:\.\d[\w.]*)?$")

# Loaders of run-time plugins: a .so without SONAME below one of these is a module.
_PLUGIN_DIRS = re.compile(
    r"/(?:engines-\d+|ossl-modules|gconv|lib-dynload|security|sasl2|xtables|"
    r"gio/modules|gdk-pixbuf-[\d.]+/[\d.]+/loaders|bfd-plugins|plugins?|modules|"
    r"krb5/plugins|pkcs11|audit|dri)/"
)

# Always left out, whatever the package (documentation and tooling integration).
_LEFT_OUT_DIRS = re.compile(
    r"^/usr/share/(?:man|info|doc-base|gtk-doc|lintian|bug|bash-completion|zsh|fish|"
    r"help|gnome/help|devhelp|emacs/site-lisp|vim/vimfiles|apport)/"
    r"|^/usr/lib/debug/|^/usr/share/gdb/|^/etc/bash_completion\.d/|^/usr/src/debug/"
    r"|^/usr/share/maven-repo/|^/usr/share/texmf/doc/"
)
# Documentation kept inside an application's own tree (/usr/lib/jvm/*/legal, .../examples).
_EMBEDDED_DOCS = re.compile(r"^/usr/.+/(?:docs?|man|examples?|legal|demo|samples?)(?:/|$)")
_LANG_MODULES = re.compile(r"\.(?:beam|app|appup|pyc|elc)$")
_DEV_PATH = re.compile(
    r"^/usr/include/|^/usr/(?:lib\w*|share)(?:/[a-z0-9_]+-linux-gnu\w*)?/(?:pkgconfig|cmake)/"
    r"|^/usr/share/aclocal/|^/usr/lib\w*/[^/]+/include/"
)
_DEV_SUFFIX = re.compile(r"\.(?:h|hh|hpp|hxx|a|la|pc|prl|cmake|o)$")
# A JDK is Java's development kit: its jni.h headers are the point of it, as in a -dev.
_DEV_PACKAGE = re.compile(r"-(?:dev|devel|headers|static|jdk)(?:$|-)|^linux-libc-dev$")

_CONFIG_DIRS = re.compile(
    r"^(?:/usr)?/lib/(?:systemd/(?:system|user|network|system-preset|user-preset)|tmpfiles\.d|"
    r"sysusers\.d|udev/rules\.d|pam\.d|sysctl\.d|modprobe\.d|modules-load\.d|binfmt\.d|"
    r"environment\.d|kernel)/"
    r"|^/usr/share/(?:dbus-1|polkit-1|pam|pam-configs|fontconfig|X11/xorg\.conf\.d)/"
)
_DATA_DIRS = re.compile(
    r"^/usr/share/(?:zoneinfo|fonts|mime|X11(?!/locale)|misc|terminfo|ca-certificates|"
    r"publicsuffix|GeoIP|tabset|xml|sgml|icons|pixmaps|javascript|dict)/"
    r"|^/usr/lib/(?:terminfo|ssl)/|^/etc/pki/"
)
_LOCALE_DATA = re.compile(r"^/usr/lib\w*/locale/|^/usr/share/i18n/|^/usr/share/X11/locale/")
_TRANSLATION = re.compile(r"^/usr/share/locale/.*\.mo$|^/usr/share/locale/")
_COPYRIGHT = re.compile(r"^/usr/share/licenses/|^/usr/share/doc/[^/]+/copyright$")
_DOC_COPYRIGHT = re.compile(r"^/usr/share/doc/([^/]+)/copyright$")
# /usr/share/doc/<pkg> listed as a file: Debian's doc-dir symlink to the package it was
# built with; it is how <pkg>/copyright resolves, so it goes with the copyright.
_DOC_DIR_LINK = re.compile(r"^/usr/share/doc/[^/]+$")
# Executables that systemd (or a program's own tree) runs, kept in a library directory.
_LIB_EXECUTABLES = re.compile(
    r"^(?:/usr)?/lib/systemd/(?:systemd-[^/.]+|system-generators/[^/]+|"
    r"user-generators/[^/]+)$"
)
_SCRIPT_NAME = re.compile(r"\.(?:sh|bash)$")
_EXAMPLE_NAME = re.compile(r"\.(?:example|sample|dist)$")
# The interpreter's own standard library (python3's os.py, json/): always needed by the
# interpreter, though a path model trained on packages that leave .py files out (the
# corpus's python3-lib2to3) would drop it. Site packages and tool trees are not meant.
_PY_STDLIB = re.compile(
    r"^/usr/lib\w*/python3\.\d+/(?!site-packages/|dist-packages/|lib2to3/|idlelib/|"
    r"tkinter/|turtledemo/|test/)[^ ]*\.py$"
)
_PY_STDLIB_PACKAGE = re.compile(r"^(?:lib)?python3(?:\.\d+)?(?:-(?:libs|stdlib|minimal))?$")
_LANG_LIBS = re.compile(
    r"^/usr/lib\w*/python[\d.]*/|^/usr/share/(?:python3?|perl5?|ruby|lua)/|"
    r"^/usr/lib\w*/(?:perl5?|ruby|lua|node_modules)/|^/usr/share/nodejs/"
)


@dataclass(frozen=True)
class RuleDecision:
    """The rules' role for a file, whether they are sure, and a short why for a comment."""

    role: Role
    confident: bool
    reason: str


def is_dev_package(package: str) -> bool:
    """True for development packages (``-dev``, ``-devel``, ``-headers``)."""
    return bool(_DEV_PACKAGE.search(package))


def is_lib_dir(directory: str) -> bool:
    """True for a shared-library directory: /usr/lib64, /lib, /usr/lib/x86_64-linux-gnu, ..."""
    return bool(_LIB_DIR_RE.match(directory))


def classify_by_rules(path: str, package: str, *, file: PackageFile | None = None) -> RuleDecision:
    """The rules' decision for ``path`` of ``package``, from ``file``'s facts when given."""
    if file is not None:
        decision = _from_facts(path, package, file)
        if decision is not None:
            return decision
    return _from_path(path, package)


def _dev_file(package: str, what: str) -> RuleDecision:
    """Development files go into a dev slice of a dev package and are left out elsewhere."""
    if is_dev_package(package):
        return RuleDecision(Role.DEV, True, f"{what} of development package")
    return RuleDecision(Role.LEFT_OUT, True, what)


def _from_facts(path: str, package: str, file: PackageFile) -> RuleDecision | None:
    """Decisions the header flags and ELF/symlink facts settle; None to fall back on the path."""
    if file.kind is FileKind.DIR:
        return RuleDecision(Role.LEFT_OUT, True, "directory (made by the slices that need it)")
    if FileFlag.GHOST in file.flags:
        return RuleDecision(Role.LEFT_OUT, True, "%ghost file (not in the payload)")
    if FileFlag.LICENSE in file.flags:
        return RuleDecision(Role.COPYRIGHT, True, "%license file")
    if FileFlag.DOC in file.flags or FileFlag.README in file.flags:
        return RuleDecision(Role.LEFT_OUT, True, "%doc file")
    if FileFlag.CONFIG in file.flags:
        return RuleDecision(Role.CONFIG, True, "%config file")
    name = path.rsplit("/", 1)[-1]
    directory = path.rsplit("/", 1)[0]
    if file.kind is FileKind.SYMLINK and is_lib_dir(directory) and file.link_target:
        if _UNVERSIONED_LIB.match(name):
            target = file.link_target.rsplit("/", 1)[-1]
            return _dev_file(package, f"development symlink {name} -> {target}")
        if _VERSIONED_SO.match(name):
            return RuleDecision(Role.LIBS, True, f"runtime symlink {name} -> {file.link_target}")
    elf = file.elf
    if elf is not None and elf.error is None:
        if elf.elf_type == "ET_REL":
            return _dev_file(package, "ELF relocatable object")
        if elf.soname and not _PLUGIN_DIRS.search(path):
            return RuleDecision(Role.LIBS, True, f"ELF with SONAME {elf.soname}")
        if elf.interpreter or elf.elf_type == "ET_EXEC":
            return RuleDecision(Role.BINS, True, "ELF executable")
        if elf.elf_type == "ET_DYN":
            if elf.soname:
                return RuleDecision(Role.MODULES, True, f"plugin with SONAME {elf.soname}")
            return RuleDecision(Role.MODULES, True, "ELF shared object without SONAME (plugin)")
    if _PY_STDLIB.search(path) and _PY_STDLIB_PACKAGE.match(package):
        # Stdlib modules with a shebang and x bits (platform.py, cgi.py) are imported,
        # not run: they belong with the rest of the standard library.
        return RuleDecision(Role.LIBS, True, "the interpreter's standard library")
    if file.shebang and (file.mode & 0o111 or _LIBEXEC.search(path)):
        return RuleDecision(Role.SCRIPTS, True, f"script run by {file.shebang}")
    return None


# Memoized: propose asks about every path several times (the package context, the
# model's features, the decision itself), and a package may have tens of thousands.
# The size holds one such package whole; the result is immutable.
@functools.lru_cache(maxsize=1 << 16)
def _from_path(path: str, package: str) -> RuleDecision:
    """Decisions from the path alone; ``confident`` only where the location is unambiguous."""
    directory, _, name = path.rpartition("/")
    doc_copyright = _DOC_COPYRIGHT.match(path)
    if doc_copyright and doc_copyright.group(1) != package:
        # A copyright of another (bundled) package's doc dir: node-acorn ships a dozen.
        return RuleDecision(Role.LEFT_OUT, False, "copyright file of a bundled package")
    if _COPYRIGHT.search(path):
        return RuleDecision(Role.COPYRIGHT, True, "license/copyright file")
    if _DOC_DIR_LINK.match(path):
        return RuleDecision(Role.COPYRIGHT, True, "doc directory link (holds the copyright)")
    if path.startswith("/usr/share/doc/"):
        return RuleDecision(Role.LEFT_OUT, True, "documentation")
    if _LEFT_OUT_DIRS.search(path):
        top = path.split("/")[3] if path.startswith("/usr/share/") else path.split("/")[2]
        return RuleDecision(Role.LEFT_OUT, True, f"{top} file (not needed at run time)")
    if _LOCALE_DATA.search(path):
        return RuleDecision(Role.LOCALE, True, "locale data")
    if _TRANSLATION.search(path):
        return RuleDecision(Role.LEFT_OUT, True, "translation catalog")
    if _DEV_PATH.search(path):
        return _dev_file(package, "development file (headers, pkg-config, cmake)")
    if _DEV_SUFFIX.search(name) and not path.startswith("/etc/"):
        return _dev_file(package, f"development file (*{name[name.rfind('.'):]})")
    if is_lib_dir(directory):
        if _VERSIONED_SO.match(name):
            return RuleDecision(Role.LIBS, True, f"shared library {name}")
        if _UNVERSIONED_LIB.match(name):
            if is_dev_package(package):
                return RuleDecision(Role.DEV, False, f"{name}: likely a development symlink")
            return RuleDecision(Role.LIBS, False, f"{name}: unversioned shared library")
    if _SHARED_OBJECT.search(name) and _PLUGIN_DIRS.search(path):
        return RuleDecision(Role.MODULES, True, "shared object in a plugin directory")
    if _BIN_DIR_RE.match(directory):
        return RuleDecision(Role.BINS, True, f"executable in {directory}")
    if _LIBEXEC.search(path) and _SCRIPT_NAME.search(name):
        return RuleDecision(Role.SCRIPTS, False, "shell script in a libexec/bin directory")
    if _LIBEXEC.search(path) and not _SHARED_OBJECT.search(name):
        return RuleDecision(Role.BINS, False, "file in a libexec/bin directory")
    if _LIB_EXECUTABLES.search(path):
        return RuleDecision(Role.BINS, False, "systemd helper program or generator")
    if path.startswith("/etc/"):
        if path.startswith("/etc/init.d/"):
            return RuleDecision(Role.BINS, False, "SysV init script")
        return RuleDecision(Role.CONFIG, True, "configuration in /etc")
    if _CONFIG_DIRS.search(path):
        return RuleDecision(Role.CONFIG, False, "vendor configuration (units, tmpfiles, pam)")
    if _DATA_DIRS.search(path):
        return RuleDecision(Role.DATA, True, "shared data")
    if _SHARED_OBJECT.search(name):
        if _MULTIARCH.search(path) or "/lib" in directory:
            return RuleDecision(Role.MODULES, False, "shared object below a library directory")
        return RuleDecision(Role.LIBS, False, "shared object")
    if _EMBEDDED_DOCS.search(path) or _EXAMPLE_NAME.search(name):
        return RuleDecision(Role.LEFT_OUT, False, "documentation inside an application tree")
    if _LANG_MODULES.search(name):
        return RuleDecision(Role.MODULES, False, f"interpreter module (*{name[name.rfind('.'):]})")
    if name.endswith(".rlib") or name.endswith(".jar"):
        return RuleDecision(Role.LIBS, False, f"library archive (*{name[name.rfind('.'):]})")
    if _PY_STDLIB.search(path) and _PY_STDLIB_PACKAGE.match(package):
        return RuleDecision(Role.LIBS, True, "the interpreter's standard library")
    if _LANG_LIBS.search(path):
        return RuleDecision(Role.LIBS, False, "language library code")
    if path.startswith("/usr/share/"):
        return RuleDecision(Role.DATA, False, f"data in {'/'.join(path.split('/')[:4])}")
    return RuleDecision(Role.DATA, False, "no rule matches; guessing data")
