"""The learned role model: a JSON model file, prediction, and its combination with the rules.

The model is a multinomial logistic regression over the binary features of
:mod:`sdfgen.roles.features`, fitted by :mod:`sdfgen.roles.fitting`.

The shipped model is not a pickle: ``role-model.json`` holds the vocabulary with one weight
per role for each feature plus the intercepts, and ``role-model.meta.json`` records the
model file's SHA-256, the training data's SHA-256, library versions, the label set and the
cross-validation metrics. Loading checks the schema and the digest and refuses a modified
file. Prediction is plain Python (a sum of a few dozen weight rows and a softmax), so
loading and predicting need neither numpy nor scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sdfgen.errors import SdfgenError
from sdfgen.facts import PackageFile
from sdfgen.roles.features import PackageContext, feature_value, features
from sdfgen.roles.labels import Role
from sdfgen.roles.rules import RuleDecision, classify_by_rules

MODEL_SCHEMA = "sdfgen-role-model/1"
META_SCHEMA = "sdfgen-role-model-meta/1"
MODEL_FILE = "role-model.json"
META_FILE = "role-model.meta.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"
# Where the rules guess, the model overturns the guess only when at least this sure: an
# unsure model is right less often than the rules' guess (files of an unseen package family
# look like nothing in training). Training picks the threshold from a grid by
# cross-validation inside the training data and stores it in the model file; this default
# serves model files without one.
OVERRIDE_THRESHOLD = 0.9
# Probabilities are rounded to this many digits before they meet a threshold: a fit on
# another CPU differs in the last bits, which must not decide a file's role.
PROBABILITY_DIGITS = 3


class ModelError(SdfgenError):
    """The role model file is missing, corrupt, modified or of an unknown schema."""


@dataclass(frozen=True)
class Decision:
    """The combined decision for a file: who decided, why, and the model's probabilities."""

    role: Role
    source: str  # "rules" or "model"
    reason: str
    probabilities: tuple[tuple[Role, float], ...] = ()


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
                value = feature_value(feature)
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
    if best == ruled.role or round(p_best, PROBABILITY_DIGITS) >= threshold:
        reason = f"model: {best.value} {p_best:.2f} vs {second.value} {p_second:.2f}"
        return Decision(best, "model", reason, tuple(ranked))
    reason = f"{ruled.reason} (model unsure: {best.value} {p_best:.2f})"
    return Decision(ruled.role, "rules", reason, tuple(ranked))
