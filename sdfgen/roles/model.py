"""The learned role model: features of a packaged file, fitting, a JSON model file, prediction.

The model is a multinomial logistic regression over binary features of the path (directory
prefixes, components, extension, name tokens, depth), of the package name and its relation
to the path, of the rules' guess, and -- where the caller has them -- of the RPM flags and
ELF facts (the corpus holds paths only, so those default to ``facts=unknown`` in training
and unseen feature values are ignored at prediction time).

The shipped model is not a pickle: ``role-model.json`` holds the vocabulary with one weight
per role for each feature plus the intercepts, and ``role-model.meta.json`` records the
model file's SHA-256, the training data's SHA-256, library versions, the label set and the
cross-validation metrics. Loading checks the schema and the digest and refuses a modified
file. Prediction is plain Python (a sum of a few dozen weight rows and a softmax), so
loading and predicting need neither numpy nor scikit-learn; only :func:`fit_model` imports
them (this is the one module that does).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sdfgen.errors import SdfgenError
from sdfgen.facts import PackageFile
from sdfgen.roles.labels import Role
from sdfgen.roles.rules import RuleDecision, classify_by_rules, is_dev_package

MODEL_SCHEMA = "sdfgen-role-model/1"
META_SCHEMA = "sdfgen-role-model-meta/1"
MODEL_FILE = "role-model.json"
META_FILE = "role-model.meta.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"
_WEIGHT_DIGITS = 4  # weights are rounded so the file is small and reproducible
# The rules' guess enters with a larger value, which lowers its L2 penalty: where a file's
# path says little the model should fall back on the rules rather than on the class prior.
RULE_FEATURE_VALUE = 4.0
# Where the rules guess, the model overturns the guess only when at least this sure: an
# unsure model is right less often than the rules' guess (files of an unseen package family
# look like nothing in training). Training picks the threshold from THRESHOLD_GRID by
# cross-validation inside the training data and stores it in the model file; this default
# serves model files without one.
OVERRIDE_THRESHOLD = 0.9
THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


class ModelError(SdfgenError):
    """The role model file is missing, corrupt, modified or of an unknown schema."""


@dataclass(frozen=True)
class FitParams:
    """Hyper-parameters of :func:`fit_model` (recorded in the metadata)."""

    c: float = 4.0  # inverse L2 strength of the logistic regression
    min_packages: int = 2  # a feature must occur in this many packages to enter the vocabulary
    max_iter: int = 500
    seed: int = 0


@dataclass(frozen=True)
class Decision:
    """The combined decision for a file: who decided, why, and the model's probabilities."""

    role: Role
    source: str  # "rules" or "model"
    reason: str
    probabilities: tuple[tuple[Role, float], ...] = ()


_DIGITS = re.compile(r"\d+")
_TRIPLET = re.compile(r"[a-z0-9_]+-linux-gnu[a-z0-9_]*")
_TOKEN_SPLIT = re.compile(r"[-_.+@~]+")
_SOVERSION = re.compile(r"\.so(\.\d+)+$")
_PKG_TAIL = re.compile(r"(?:t64|v5)?$")
# openEuler's /usr/lib64 is Debian's /usr/lib/<triplet>: the corpus is Debian, the packages
# sdfgen proposes for are RPMs, so both spell the same directory features.
_LIB64 = re.compile(r"^(?:/usr)?/lib64(?=/)")


def _norm(text: str) -> str:
    """Digits and architecture triplets folded so versions and arches share features."""
    return _DIGITS.sub("#", _TRIPLET.sub("<triplet>", text))


def _package_base(package: str) -> str:
    """``libssl3t64`` -> ``libssl``: the package name without ABI/version decorations."""
    base = _PKG_TAIL.sub("", package)
    base = re.sub(r"[\d.]+$", "", base).rstrip("-")
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
    summary = [f"pkg_has={role.value}" for role in Role if roles[role]]
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
    order = list(Role)
    major = max(others, key=lambda r: (others[r], -order.index(r)))
    out.append(f"sib={major.value}")
    out.append(f"sib={major.value}|own={own.value}")
    out.extend(f"sibhas={role.value}" for role in others)
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
    out.append(f"rule={decision.role.value}")
    out.append(f"rule={decision.role.value}|{decision.confident}")
    out.extend(_fact_features(file))
    return out


def _fact_features(file: PackageFile | None) -> list[str]:
    """Features of the RPM header and ELF facts; ``facts=unknown`` without them."""
    if file is None:
        return ["facts=unknown"]
    out = [f"kind={file.kind.value}", f"exec={bool(file.mode & 0o111)}"]
    out.extend(f"flag={flag.value}" for flag in sorted(file.flags))
    if file.elf is not None:
        out.append(f"elf={file.elf.elf_type or 'broken'}")
        out.append(f"soname={file.elf.soname is not None}")
        out.append(f"interp={file.elf.interpreter is not None}")
    if file.shebang:
        out.append(f"shebang={file.shebang.rsplit('/', 1)[-1].split()[0]}")
    return out


class RoleModel:
    """A loaded (or freshly fitted) role model: predicts role probabilities for a file."""

    def __init__(
        self, classes: Sequence[Role], intercept: Sequence[float],
        weights: dict[str, list[float]], threshold: float = OVERRIDE_THRESHOLD,
    ) -> None:
        self.classes = tuple(classes)
        self.intercept = tuple(intercept)
        self.weights = weights
        self.threshold = threshold

    def predict(
        self, path: str, package: str, file: PackageFile | None = None,
        context: PackageContext | None = None,
    ) -> list[tuple[Role, float]]:
        """(role, probability) for every role, most probable first (ties in role order)."""
        return self.predict_features(features(path, package, file, context))

    def predict_features(self, found: Iterable[str]) -> list[tuple[Role, float]]:
        """:meth:`predict` for a file whose :func:`features` are ``found``."""
        scores = list(self.intercept)
        for feature in set(found):
            row = self.weights.get(feature)
            if row is not None:
                value = RULE_FEATURE_VALUE if feature.startswith("rule=") else 1.0
                scores = [s + w * value for s, w in zip(scores, row, strict=True)]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        ranked = [(role, e / total) for role, e in zip(self.classes, exps, strict=True)]
        order = {role: index for index, role in enumerate(self.classes)}
        return sorted(ranked, key=lambda item: (-item[1], order[item[0]]))

    def to_json(self) -> dict[str, object]:
        """The model file's content (see :func:`save_model`)."""
        return {
            "schema": MODEL_SCHEMA,
            "classes": [role.value for role in self.classes],
            "intercept": list(self.intercept),
            "override_threshold": self.threshold,
            "weights": {key: self.weights[key] for key in sorted(self.weights)},
        }


def fit_model(
    samples: Sequence[tuple[str, str]], labels: Sequence[Role],
    sample_weight: Sequence[float], params: FitParams = FitParams(),
    contexts: Mapping[str, PackageContext] | None = None,
) -> RoleModel:
    """Fit a model on ``samples`` ((path, package) pairs), with each package's context from
    ``contexts`` where given; deterministic for equal inputs."""
    given = contexts or {}
    rows = [feature_row(path, package, given.get(package)) for path, package in samples]
    return fit_rows(rows, [package for _, package in samples], labels, sample_weight, params)


def feature_row(path: str, package: str, context: PackageContext | None) -> tuple[str, ...]:
    """The sorted distinct features of a corpus file (paths only), as :func:`fit_rows` takes."""
    return tuple(sorted(set(features(path, package, None, context))))


def fit_rows(
    rows: Sequence[Sequence[str]], packages: Sequence[str], labels: Sequence[Role],
    sample_weight: Sequence[float], params: FitParams = FitParams(),
    threshold: float = OVERRIDE_THRESHOLD,
) -> RoleModel:
    """Fit a model on precomputed :func:`feature_row` rows (each from package ``packages[i]``).

    Cross-validation computes the rows once and fits many times on subsets.
    """
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    packages_of: dict[str, set[str]] = {}
    for package, row in zip(packages, rows, strict=True):
        for feature in row:
            packages_of.setdefault(feature, set()).add(package)
    vocabulary = sorted(f for f, pkgs in packages_of.items() if len(pkgs) >= params.min_packages)
    index = {feature: i for i, feature in enumerate(vocabulary)}
    indptr: list[int] = [0]
    indices: list[int] = []
    values: list[float] = []
    for row in rows:
        kept = [f for f in row if f in index]
        indices.extend(index[f] for f in kept)
        values.extend(RULE_FEATURE_VALUE if f.startswith("rule=") else 1.0 for f in kept)
        indptr.append(len(indices))
    matrix = csr_matrix(
        (np.array(values), np.array(indices, dtype=np.int64), np.array(indptr)),
        shape=(len(rows), len(vocabulary)),
    )
    classes = sorted(set(labels), key=list(Role).index)
    target = np.array([classes.index(label) for label in labels])
    estimator = LogisticRegression(C=params.c, max_iter=params.max_iter, random_state=params.seed)
    estimator.fit(matrix, target, sample_weight=np.asarray(sample_weight, dtype=float))
    coef = np.round(estimator.coef_, _WEIGHT_DIGITS)  # rows: classes, columns: vocabulary
    intercept = np.round(estimator.intercept_, _WEIGHT_DIGITS)
    if len(classes) == 2:  # sklearn keeps one row for two classes: expand to one per class
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weights: dict[str, list[float]] = {}
    for column, feature in enumerate(vocabulary):
        per_class = [float(value) for value in coef[:, column]]
        if any(per_class):  # a zero row changes no score: leave it out of the file
            weights[feature] = per_class
    return RoleModel(classes, [float(v) for v in intercept], weights, threshold)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a fit depends on (recorded in the metadata)."""
    import numpy
    import scipy
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}


def model_bytes(model: RoleModel) -> bytes:
    """The canonical serialisation of ``model`` (sorted keys, compact, newline-terminated)."""
    return (json.dumps(model.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()


def save_model(model: RoleModel, out_dir: Path, metadata: dict[str, object]) -> Path:
    """Write the model and its metadata (with the model file's SHA-256) atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = model_bytes(model)
    meta = dict(metadata)
    meta.update(schema=META_SCHEMA, model_file=MODEL_FILE,
                model_sha256=hashlib.sha256(data).hexdigest(), model_bytes=len(data))
    _write_atomic(out_dir / MODEL_FILE, data)
    text = json.dumps(meta, sort_keys=True, indent=2) + "\n"
    _write_atomic(out_dir / META_FILE, text.encode())
    return out_dir / MODEL_FILE


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def load_model(path: Path = DEFAULT_MODEL_DIR) -> RoleModel:
    """Load the model in directory ``path``; raises ModelError if it is missing or modified."""
    directory = Path(path)
    meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        data = model_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"{exc.filename}: role model file not found (run `sdfgen train`)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_path}: unreadable model metadata: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("schema") != META_SCHEMA:
        raise ModelError(f"{meta_path}: not a role model metadata file of schema {META_SCHEMA}")
    if hashlib.sha256(data).hexdigest() != meta.get("model_sha256"):
        raise ModelError(
            f"{model_path}: SHA-256 does not match {meta_path.name} "
            "(file corrupt or modified; retrain with `sdfgen train`)"
        )
    try:
        content = json.loads(data)
        return _model_from_json(content)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{model_path}: malformed role model: {exc}") from exc


def _model_from_json(content: object) -> RoleModel:
    """Validate the model file's structure and build the RoleModel."""
    if not isinstance(content, dict) or content.get("schema") != MODEL_SCHEMA:
        raise ValueError(f"schema is not {MODEL_SCHEMA}")
    classes = [Role(value) for value in content["classes"]]
    intercept = [float(v) for v in content["intercept"]]
    weights = content["weights"]
    if len(intercept) != len(classes) or not isinstance(weights, dict):
        raise ValueError("intercept/classes length mismatch")
    for key, row in weights.items():
        if not isinstance(row, list) or len(row) != len(classes):
            raise ValueError(f"weight row {key!r} has the wrong length")
    threshold = float(content.get("override_threshold", OVERRIDE_THRESHOLD))
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"override_threshold {threshold} is not a probability")
    return RoleModel(classes, intercept, weights, threshold)


@lru_cache(maxsize=1)
def default_model() -> RoleModel:
    """The shipped model, loaded once."""
    return load_model(DEFAULT_MODEL_DIR)


def classify(
    path: str, package: str, file: PackageFile | None = None, model: RoleModel | None = None,
    context: PackageContext | None = None,
) -> Decision:
    """Role of a file: the rules where they are confident, otherwise the model.

    ``context`` (:func:`package_context` of the package's paths) lets the model see the
    file's siblings; without it the model predicts from the file alone, less well.
    """
    ruled = classify_by_rules(path, package, file=file)
    if ruled.confident:
        return Decision(ruled.role, "rules", ruled.reason)
    chosen = model or default_model()
    return combine(ruled, chosen.predict(path, package, file, context), chosen.threshold)


def combine(ruled: RuleDecision, ranked: Sequence[tuple[Role, float]],
            threshold: float = OVERRIDE_THRESHOLD) -> Decision:
    """Combine a rule decision with the model's ranking (the policy :func:`classify` uses).

    Confident rules decide. Otherwise the model decides when its best role reaches
    ``threshold`` (or agrees with the rules' guess); below that the rules' guess stands
    and the reason shows both.
    """
    if ruled.confident:
        return Decision(ruled.role, "rules", ruled.reason)
    (best, p_best), (second, p_second) = ranked[0], ranked[1]
    if best == ruled.role or p_best >= threshold:
        reason = f"model: {best.value} {p_best:.2f} vs {second.value} {p_second:.2f}"
        return Decision(best, "model", reason, tuple(ranked))
    reason = f"{ruled.reason} (model unsure: {best.value} {p_best:.2f})"
    return Decision(ruled.role, "rules", reason, tuple(ranked))
