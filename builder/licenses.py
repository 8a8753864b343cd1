"""RPM ``License`` tags as SPDX license expressions, for the SBOM.

An RPM's License tag is free text: openEuler's newer packages use SPDX expressions
(``LGPL-2.1-or-later AND MIT``), older ones Fedora's legacy short names joined by
``and``/``or`` (``GPLv2+ and LGPLv2+ with exceptions``, ``ASL 2.0``, ``Public
Domain``). :func:`map_licenses` keeps the structure (operators, parentheses), turns
every term into an SPDX license id where the meaning is unambiguous, and every other
term into a ``LicenseRef-`` whose extracted-licensing entry records the term as it
was written, so the SBOM's expressions are always valid. A tag that is not an
expression at all (unbalanced parentheses, a dangling operator) becomes one
``LicenseRef-`` for the whole tag. No licence list is loaded at run time: the ids
below are checked against spdx-tools' list by the tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# SPDX license ids an RPM may name as they are (matched case-insensitively).
SPDX_IDS = frozenset("""
0BSD AFL-2.1 AFL-3.0 AGPL-3.0-only AGPL-3.0-or-later Apache-1.0 Apache-1.1 Apache-2.0
APSL-2.0 Artistic-1.0 Artistic-1.0-Perl Artistic-2.0 Beerware blessing BSD-1-Clause
BSD-2-Clause BSD-2-Clause-Patent BSD-3-Clause BSD-3-Clause-Clear BSD-4-Clause
BSD-Source-Code BSL-1.0 bzip2-1.0.6 CC-BY-3.0 CC-BY-4.0 CC-BY-SA-3.0 CC-BY-SA-4.0 CC0-1.0
CDDL-1.0 CDDL-1.1 CPL-1.0 curl ECL-2.0 EPL-1.0 EPL-2.0 EUPL-1.1 EUPL-1.2 FSFAP FSFUL FSFULLR
FTL GFDL-1.1-only GFDL-1.1-or-later GFDL-1.2-only GFDL-1.2-or-later GFDL-1.3-only
GFDL-1.3-or-later GPL-1.0-only GPL-1.0-or-later GPL-2.0-only GPL-2.0-or-later GPL-3.0-only
GPL-3.0-or-later HPND ICU IJG ISC LGPL-2.0-only LGPL-2.0-or-later LGPL-2.1-only
LGPL-2.1-or-later LGPL-3.0-only LGPL-3.0-or-later Libpng libtiff LPPL-1.3c MIT MIT-0
MIT-CMU MPL-1.0 MPL-1.1 MPL-2.0 MPL-2.0-no-copyleft-exception MS-PL MulanPSL-1.0
MulanPSL-2.0 NCSA NTP OFL-1.1 OLDAP-2.8 OpenSSL PHP-3.01 PostgreSQL PSF-2.0 Python-2.0
Python-2.0.1 Ruby Sleepycat SSPL-1.0 TCL Unicode-DFS-2015 Unicode-DFS-2016 Unlicense UPL-1.0
Vim W3C WTFPL X11 Zlib ZPL-2.1
""".split())
# License exceptions that may follow WITH.
SPDX_EXCEPTIONS = frozenset("""
Autoconf-exception-2.0 Autoconf-exception-3.0 Bison-exception-2.2 Classpath-exception-2.0
FLTK-exception Font-exception-2.0 GCC-exception-2.0 GCC-exception-3.1
GPL-3.0-linking-exception LGPL-3.0-linking-exception Libtool-exception Linux-syscall-note
LLVM-exception OCaml-LGPL-linking-exception openvpn-openssl-exception Qt-LGPL-exception-1.1
Universal-FOSS-exception-1.0 WxWindows-exception-3.1
""".split())
# Fedora's legacy short names (and SPDX's deprecated GNU ids) whose meaning is one SPDX
# id. Names that stand for several licences ("BSD", "LGPLv2", "Artistic", "Python",
# "Public Domain") are deliberately absent: they become LicenseRefs, not guesses.
LEGACY = {
    "GPL+": "GPL-1.0-or-later", "GPLv2": "GPL-2.0-only", "GPLv2+": "GPL-2.0-or-later",
    "GPLv3": "GPL-3.0-only", "GPLv3+": "GPL-3.0-or-later",
    "LGPLv2.1": "LGPL-2.1-only", "LGPLv2.1+": "LGPL-2.1-or-later",
    "LGPLv3": "LGPL-3.0-only", "LGPLv3+": "LGPL-3.0-or-later",
    "AGPLv3": "AGPL-3.0-only", "AGPLv3+": "AGPL-3.0-or-later",
    "GFDL-1.3+": "GFDL-1.3-or-later", "ASL 1.0": "Apache-1.0", "ASL 1.1": "Apache-1.1",
    "ASL 2.0": "Apache-2.0", "MPLv1.0": "MPL-1.0", "MPLv1.1": "MPL-1.1", "MPLv2.0": "MPL-2.0",
    "Artistic 2.0": "Artistic-2.0", "Boost": "BSL-1.0", "CC0": "CC0-1.0", "MulanPSLv2":
    "MulanPSL-2.0", "OpenLDAP": "OLDAP-2.8",
    "GPL-1.0": "GPL-1.0-only", "GPL-1.0+": "GPL-1.0-or-later", "GPL-2.0": "GPL-2.0-only",
    "GPL-2.0+": "GPL-2.0-or-later", "GPL-3.0": "GPL-3.0-only", "GPL-3.0+": "GPL-3.0-or-later",
    "LGPL-2.0": "LGPL-2.0-only", "LGPL-2.0+": "LGPL-2.0-or-later", "LGPL-2.1": "LGPL-2.1-only",
    "LGPL-2.1+": "LGPL-2.1-or-later", "LGPL-3.0": "LGPL-3.0-only",
    "LGPL-3.0+": "LGPL-3.0-or-later", "AGPL-3.0": "AGPL-3.0-only",
}
_CANONICAL = {name.lower(): name for name in (*SPDX_IDS, *LEGACY.values())}
_CANONICAL.update({name.lower(): spdx for name, spdx in LEGACY.items()})
_EXCEPTIONS = {name.lower(): name for name in SPDX_EXCEPTIONS}
_OPERATORS = {"and": "AND", "or": "OR"}
_REF_TERM = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class LicenseMapping:
    """Each RPM License tag's SPDX expression, and the LicenseRefs they use."""

    expressions: dict[str, str]  # RPM License tag -> SPDX expression
    extracted: tuple[dict[str, Any], ...]  # hasExtractedLicensingInfos entries


def _tokens(text: str) -> list[str] | None:
    """Operators, parentheses and terms (runs of other words); None if not an expression."""
    tokens: list[str] = []
    words: list[str] = []
    for word in re.findall(r"[()]|[^\s()]+", text):
        if word in "()" or word.lower() in _OPERATORS:
            if words:
                tokens.append(" ".join(words))
                words = []
            tokens.append(word if word in "()" else _OPERATORS[word.lower()])
        else:
            words.append(word)
    if words:
        tokens.append(" ".join(words))
    # A well-formed expression alternates term and operator, with balanced parentheses.
    depth, want_term = 0, True
    for token in tokens:
        if token == "(" and want_term:
            depth += 1
        elif token == ")" and not want_term and depth:
            depth -= 1
        elif token in ("AND", "OR") and not want_term:
            want_term = True
        elif token not in ("(", ")", "AND", "OR") and want_term:
            want_term = False
        else:
            return None
    return tokens if tokens and depth == 0 and not want_term else None


def _spdx_term(term: str) -> str | None:
    """The SPDX form of one term (``X``, ``X with Y``), or None if it has no sure one."""
    if _REF_TERM.fullmatch(term):
        return None  # needs an extracted-licensing entry like any other unknown term
    with_exception = re.fullmatch(r"(.+?)\s+with\s+(\S.*)", term, re.IGNORECASE)
    license_part, exception = with_exception.groups() if with_exception else (term, "")
    spdx = _CANONICAL.get(license_part.lower())
    if spdx is None:
        return None
    if not exception:
        return spdx
    known = _EXCEPTIONS.get(exception.lower())
    return f"{spdx} WITH {known}" if known else None


def _ref_name(term: str) -> str:
    """A readable LicenseRef id for ``term``: ``Public Domain`` -> ``LicenseRef-Public-Domain``."""
    if _REF_TERM.fullmatch(term):
        return term
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", term.replace("+", "-or-later")).strip("-")
    return "LicenseRef-" + (readable or "unnamed")


def map_licenses(tags: Iterable[str]) -> LicenseMapping:
    """Map every RPM License tag in ``tags`` to an SPDX expression (see the module).

    Empty tags and ``(none)`` map to NOASSERTION. Unknown terms that would get the
    same LicenseRef id get a short hash of their exact text appended (a LicenseRef
    the tag names itself keeps its id), so the ids depend only on the set of tags and
    never merge two different terms.
    """
    parsed: dict[str, list[str] | None] = {}
    unknown: set[str] = set()
    for tag in sorted(set(tags)):
        text = tag.strip()
        if not text or text == "(none)":
            parsed[tag] = None
            continue
        tokens = _tokens(text)
        if tokens is None:
            tokens = [text]  # not an expression: one reference for the whole tag
        parsed[tag] = tokens
        unknown.update(t for t in tokens if t not in ("(", ")", "AND", "OR")
                       and _spdx_term(t) is None)
    by_name: dict[str, list[str]] = {}
    for term in sorted(unknown):
        by_name.setdefault(_ref_name(term), []).append(term)
    refs: dict[str, str] = {}
    for name, terms in by_name.items():
        for term in terms:
            # A LicenseRef the RPM names itself keeps its id; other terms that would
            # read the same are told apart by a hash of their text.
            keep = term == name or len(terms) == 1
            refs[term] = name if keep else (
                f"{name}-{hashlib.sha256(term.encode()).hexdigest()[:8]}")
    expressions: dict[str, str] = {}
    for tag, tokens in parsed.items():
        if tokens is None:
            expressions[tag] = "NOASSERTION"
            continue
        parts = [t if t in ("(", ")", "AND", "OR") else (_spdx_term(t) or refs[t])
                 for t in tokens]
        expressions[tag] = " ".join(parts).replace("( ", "(").replace(" )", ")")
    extracted = tuple({
        "licenseId": refs[term],
        "extractedText": term,
        "name": term,
        "comment": "a term of an RPM License tag that names no single SPDX license; "
                   "the RPM header carries the name, not the licence text",
    } for term in sorted(unknown, key=lambda t: refs[t]))
    return LicenseMapping(expressions, extracted)
