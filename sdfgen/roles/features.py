"""What the role model sees of a packaged file: binary features as strings.

Features of the path (directory prefixes, components, extension, name tokens, depth), of
the package name and its relation to the path, of the rules' guess, of the package context
(the rules' roles of the file's siblings, what the package ships) and -- where the caller
has them -- of the RPM flags and ELF facts. The corpus holds paths only, so in training
the facts are ``facts=unknown``; at prediction time unseen feature values are ignored.
Plain Python: training and prediction compute features the same way.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sdfgen.facts import PackageFile
from sdfgen.roles.labels import Role
from sdfgen.roles.rules import classify_by_rules, is_dev_package

# The rules' guess enters with a larger value, which lowers its L2 penalty: where a file's
# path says little the model should fall back on the rules rather than on the class prior.
RULE_FEATURE_VALUE = 4.0

_DIGITS = re.compile(r"\d+")
_TRIPLET = re.compile(r"[a-z0-9_]+-linux-gnu[a-z0-9_]*")
_TOKEN_SPLIT = re.compile(r"[-_.+@~]+")
_SOVERSION = re.compile(r"\.so(\.\d+)+$")
_PKG_TAIL = re.compile(r"(?:t64|v5)?$")
_VERSION_TAIL = re.compile(r"[\d.]+$")
# openEuler's /usr/lib64 is Debian's /usr/lib/<triplet>: the corpus is Debian, the packages
# sdfgen proposes for are RPMs, so both spell the same directory features.
_LIB64 = re.compile(r"^(?:/usr)?/lib64(?=/)")
_ROLE_ORDER = {role: index for index, role in enumerate(Role)}


def _norm(text: str) -> str:
    """Digits and architecture triplets folded so versions and arches share features."""
    return _DIGITS.sub("#", _TRIPLET.sub("<triplet>", text))


@functools.lru_cache(maxsize=1024)
def _package_base(package: str) -> str:
    """``libssl3t64`` -> ``libssl``: the package name without ABI/version decorations."""
    base = _PKG_TAIL.sub("", package)
    base = _VERSION_TAIL.sub("", base).rstrip("-")
    return base or package


@dataclass(frozen=True)
class PackageContext:
    """What the rest of a package says about each of its files (see :func:`package_context`).

    ``siblings`` maps a directory to how many of its files the rules (from the path) put in
    each role; ``summary`` holds package-wide features (does it ship shared libraries,
    executables, how much of it is documentation).
    """

    siblings: Mapping[str, Mapping[Role, int]] = field(default_factory=dict)
    summary: tuple[str, ...] = ()


def package_context(package: str, paths: Iterable[str]) -> PackageContext:
    """The context of ``package`` from the paths of its files (directories left out).

    Built from paths and rules alone, so that it is the same in training (the corpus has
    paths only) and at propose time (give every non-directory path of the package, the
    union over arches).
    """
    siblings: dict[str, Counter[Role]] = {}
    roles: Counter[Role] = Counter()
    left_out = total = 0
    for path in sorted(set(paths)):
        decision = classify_by_rules(path, package)
        siblings.setdefault(path.rpartition("/")[0], Counter())[decision.role] += 1
        roles[decision.role] += 1
        total += 1
        left_out += decision.role is Role.LEFT_OUT and decision.confident
    summary = [f"pkg_has={role}" for role in Role if roles[role]]
    share = left_out / total if total else 0.0
    summary.append(f"pkg_leftout={min(int(share * 4), 3)}")
    summary.append(f"pkg_size={min(int(math.log2(total + 1)), 10)}")
    return PackageContext({d: dict(c) for d, c in siblings.items()}, tuple(summary))


def _context_features(path: str, package: str, context: PackageContext) -> list[str]:
    """Features of ``path``'s siblings (the rules' roles of the other files of its directory)."""
    out = list(context.summary)
    own = classify_by_rules(path, package).role
    counts = Counter(context.siblings.get(path.rpartition("/")[0], {}))
    counts[own] -= 1  # the file itself is not its own sibling
    others = {role: n for role, n in counts.items() if n > 0}
    if not others:
        out.append("sib=none")
        return out
    total = sum(others.values())
    major = max(others, key=lambda r: (others[r], -_ROLE_ORDER[r]))
    # Roles are StrEnums: formatting one gives its value (``.value`` is a slow property).
    out.append(f"sib={major}")
    out.append(f"sib={major}|own={own}")
    out.extend(f"sibhas={role}" for role in others)
    out.append(f"sibsize={min(int(math.log2(total + 1)), 6)}")
    return out


def features(path: str, package: str, file: PackageFile | None = None,
             context: PackageContext | None = None) -> list[str]:
    """The binary features (as strings) of ``path`` in ``package``, with ``file``'s facts
    and the package ``context``; without one, the file is taken for its package's only file
    (the model then knows less: give the context where the package's paths are known)."""
    if context is None:
        context = package_context(package, [path])
    out: list[str] = _context_features(path, package, context)
    pkg = package.lower()
    base = _package_base(pkg)
    directory, _, name = _LIB64.sub("/usr/lib/x86_64-linux-gnu", path).rpartition("/")
    components = [c for c in directory.split("/") if c]
    normalized = [_norm(c.lower().replace(pkg, "<pkg>")) for c in components]
    for depth in range(1, min(len(normalized), 4) + 1):
        out.append(f"d{depth}=/" + "/".join(normalized[:depth]))
    out.extend(f"comp={c}" for c in set(normalized))
    out.append(f"parent={normalized[-1] if normalized else '/'}")
    out.append(f"depth={min(len(components), 10)}")
    lower = name.lower()
    stem, dot, ext = lower.rpartition(".")
    if _SOVERSION.search(lower):
        ext_feature = "so.N"
    elif dot and stem:
        ext_feature = _norm(ext)[:12]
    else:
        ext_feature = "none"
    out.append(f"ext={ext_feature}")
    if dot and stem and "." in stem:
        out.append(f"ext2={_norm(stem.rpartition('.')[2])[:12]}.{ext_feature}")
    out.append(f"name={_norm(lower.replace(pkg, '<pkg>'))}")
    out.extend(f"ntok={_norm(t)}" for t in set(_TOKEN_SPLIT.split(lower)) if t)
    top2 = "/".join(normalized[:2])
    top3 = "/".join(normalized[:3])
    out.append(f"d2|ext={top2}|{ext_feature}")
    out.append(f"d3|ext={top3}|{ext_feature}")
    out.append(f"parent|ext={normalized[-1] if normalized else '/'}|{ext_feature}")
    # How the path relates to its package: its own tree (/usr/share/<pkg>/) is usually
    # shipped, another package's name in /usr/share/doc/ is not.
    lowered_path = path.lower()
    out.append(f"haspkg={pkg in lowered_path}")
    out.append(f"haspkgbase={base in lowered_path}")
    out.append(f"name_startswith_pkgbase={lower.startswith(base)}")
    out.append(f"pkg_in_dirs={any(base in c.lower() for c in components)}")
    # No features of the package name's own tokens: in grouped cross-validation they let
    # the model memorise package families (gcc-13-*-linux-gnu) and generalised worse.
    out.append(f"devpkg={is_dev_package(package)}")
    decision = classify_by_rules(path, package, file=file)
    out.append(f"rule={decision.role}")
    out.append(f"rule={decision.role}|{decision.confident}")
    out.extend(_fact_features(file))
    return out


def _fact_features(file: PackageFile | None) -> list[str]:
    """Features of the RPM header and ELF facts; ``facts=unknown`` without them."""
    if file is None:
        return ["facts=unknown"]
    out = [f"kind={file.kind}", f"exec={bool(file.mode & 0o111)}"]
    out.extend(f"flag={flag}" for flag in sorted(file.flags))
    if file.elf is not None:
        out.append(f"elf={file.elf.elf_type or 'broken'}")
        out.append(f"soname={file.elf.soname is not None}")
        out.append(f"interp={file.elf.interpreter is not None}")
    if file.shebang:
        out.append(f"shebang={file.shebang.split()[0].rsplit('/', 1)[-1]}")
    return out


def feature_row(path: str, package: str, context: PackageContext | None) -> tuple[str, ...]:
    """The sorted distinct features of a corpus file (paths only), as :func:`fit_rows` takes."""
    return tuple(sorted(set(features(path, package, None, context))))


def feature_value(feature: str) -> float:
    """The value a present feature enters the model with (the rules' guess weighs more)."""
    return RULE_FEATURE_VALUE if feature.startswith("rule=") else 1.0
