"""Training and evaluating the role model on the slice corpus.

:func:`train` fits the model on every corpus file and writes ``models/``;
:func:`evaluate` measures rules alone, model alone and the combination (rules where
confident, model otherwise) with package-grouped cross-validation; :func:`render_report`
turns the result into the markdown of ``models/REPORT.md``. Everything is deterministic
for a given corpus, seed and library versions, so the report reproduces to the digit.

Grouping: a fold never holds a package that another fold trains on. It is stricter than
grouping by package name: packages of one *family* (``openjdk-17-jre-headless`` and
``openjdk-21-jre-headless``, ``binutils`` and ``binutils-aarch64-linux-gnu``) share a
group, because they are near-copies and would otherwise leak each other's labels.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sdfgen.classifier import (
    OVERRIDE_THRESHOLD,
    RULE_FEATURE_VALUE,
    FitParams,
    RoleModel,
    combine,
    fit_model,
    library_versions,
    save_model,
)
from sdfgen.corpus import CorpusPackage, labels_digest, read_labels
from sdfgen.roles import Role, role_for_slice
from sdfgen.rules import classify_by_rules

REPORT_FILE = "REPORT.md"
_ARCH_WORDS = re.compile(
    r"-(?:aarch64|x86-64|powerpc64le|s390x|arm64|amd64|i686|riscv64)(?:-linux-gnu\w*)?"
)


@dataclass(frozen=True)
class Sample:
    """One corpus file with its true role."""

    path: str
    package: str
    role: Role


@dataclass(frozen=True)
class RoleScore:
    """Precision, recall and F1 of one role, with its number of true files."""

    role: Role
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class MethodScore:
    """The scores of one method (rules, model or combined) over all folds."""

    method: str
    roles: tuple[RoleScore, ...]
    macro_f1: float
    accuracy: float
    include_accuracy: float  # the include/leave-out decision, over files
    include_accuracy_packages: float  # the same, averaged over packages


@dataclass(frozen=True)
class EvalReport:
    """The result of :func:`evaluate`."""

    corpus_sha256: str
    packages: int
    groups: int
    files: int
    folds: int
    seed: int
    params: FitParams
    libraries: dict[str, str]
    methods: tuple[MethodScore, ...]
    rules_confident_share: float
    rules_confident_accuracy: float
    rules_confident_include_errors: float  # share of all files: bounds (c)'s include accuracy
    label_counts: tuple[tuple[Role, int], ...] = field(default=())


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` wrote and how long fitting took."""

    model_path: Path
    samples: int
    seconds: float


def package_family(package: str) -> str:
    """The group key of a package: its name without versions and target architectures."""
    name = _ARCH_WORDS.sub("", package.lower())
    name = re.sub(r"t64$", "", name)
    name = re.sub(r"[\d.]+", "", name)
    return re.sub(r"-+", "-", name).strip("-") or package


def samples_of(packages: Sequence[CorpusPackage]) -> list[Sample]:
    """Every corpus file as a Sample with the role its slice name maps to."""
    return [
        Sample(item.path, package.package, role_for_slice(item.slice_name, item.path).role)
        for package in packages
        for item in package.files
    ]


def sample_weights(samples: Sequence[Sample]) -> list[float]:
    """Weights 1/sqrt(files of the package), scaled to mean 1.

    A few packages hold thousands of files (rabbitmq-server: 1500); without damping the
    model would learn their layout instead of the common one.
    """
    sizes = Counter(sample.package for sample in samples)
    raw = [1.0 / math.sqrt(sizes[sample.package]) for sample in samples]
    scale = len(raw) / sum(raw)
    return [w * scale for w in raw]


def group_folds(samples: Sequence[Sample], folds: int, seed: int) -> list[int]:
    """A fold index per sample; each package family lies in exactly one fold.

    Families go, largest first (ties broken by a seeded hash), to the fold with the fewest
    files so far -- GroupKFold's balancing, made seedable and independent of library versions.
    """
    sizes = Counter(package_family(sample.package) for sample in samples)

    def tiebreak(family: str) -> str:
        return hashlib.sha256(f"{seed}:{family}".encode()).hexdigest()

    load = [0] * folds
    fold_of: dict[str, int] = {}
    for family in sorted(sizes, key=lambda f: (-sizes[f], tiebreak(f))):
        target = min(range(folds), key=lambda i: (load[i], i))
        fold_of[family] = target
        load[target] += sizes[family]
    return [fold_of[package_family(sample.package)] for sample in samples]


def fit(samples: Sequence[Sample], params: FitParams) -> RoleModel:
    """Fit the role model on ``samples``."""
    return fit_model(
        [(s.path, s.package) for s in samples], [s.role for s in samples],
        sample_weights(samples), params,
    )


def train(corpus_dir: Path, out_dir: Path, seed: int = 0, folds: int = 5) -> TrainResult:
    """Fit on the whole corpus; write model, metadata (with CV metrics) and REPORT.md."""
    packages = read_labels(corpus_dir)
    samples = samples_of(packages)
    params = FitParams(seed=seed)
    report = evaluate(corpus_dir, folds=folds, seed=seed)
    start = time.perf_counter()
    model = fit(samples, params)
    seconds = time.perf_counter() - start
    metadata: dict[str, object] = {
        "training_data": {"file": "chisel-labels.jsonl.gz", "sha256": labels_digest(corpus_dir),
                          "packages": len(packages), "files": len(samples)},
        "libraries": library_versions(),
        "labels": [role.value for role in model.classes],
        "params": {"c": params.c, "min_packages": params.min_packages,
                   "max_iter": params.max_iter, "seed": params.seed},
        "features": len(model.weights),
        "metrics": {
            method.method: {"macro_f1": method.macro_f1, "accuracy": method.accuracy,
                            "include_accuracy": method.include_accuracy}
            for method in report.methods
        },
        "cv": {"folds": folds, "grouping": "package family"},
    }
    path = save_model(model, out_dir, metadata)
    report_path = out_dir / REPORT_FILE
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(render_report(report), encoding="utf-8")
    tmp.replace(report_path)
    return TrainResult(path, len(samples), seconds)


def evaluate(corpus_dir: Path, folds: int = 5, seed: int = 0) -> EvalReport:
    """Package-grouped cross-validation of rules alone, model alone and the combination."""
    packages = read_labels(corpus_dir)
    samples = samples_of(packages)
    params = FitParams(seed=seed)
    fold_of = group_folds(samples, folds, seed)
    ruled = [classify_by_rules(s.path, s.package) for s in samples]
    ranked: list[list[tuple[Role, float]] | None] = [None] * len(samples)
    for fold in range(folds):
        train_set = [s for s, f in zip(samples, fold_of, strict=True) if f != fold]
        if not train_set:
            continue
        model = fit(train_set, params)
        for i, (sample, f) in enumerate(zip(samples, fold_of, strict=True)):
            if f == fold:
                ranked[i] = model.predict(sample.path, sample.package)
    model_roles = [m[0][0] if m else r.role for m, r in zip(ranked, ruled, strict=True)]
    combined = [
        combine(r, m).role if m else r.role for r, m in zip(ruled, ranked, strict=True)
    ]
    truth = [s.role for s in samples]
    names = [s.package for s in samples]
    confident = [r.confident for r in ruled]
    n_conf = sum(confident)
    conf_right = sum(1 for r, t in zip(ruled, truth, strict=True) if r.confident and r.role == t)
    conf_include_wrong = sum(
        1 for r, t in zip(ruled, truth, strict=True)
        if r.confident and r.role.included != t.included
    )
    return EvalReport(
        corpus_sha256=labels_digest(corpus_dir), packages=len(packages),
        groups=len({package_family(n) for n in names}), files=len(samples), folds=folds,
        seed=seed, params=params, libraries=library_versions(),
        methods=(
            score("rules", truth, [r.role for r in ruled], names),
            score("model", truth, model_roles, names),
            score("combined", truth, combined, names),
        ),
        rules_confident_share=n_conf / len(samples),
        rules_confident_accuracy=conf_right / n_conf if n_conf else 0.0,
        rules_confident_include_errors=conf_include_wrong / len(samples),
        label_counts=tuple(sorted(Counter(truth).items(), key=lambda kv: list(Role).index(kv[0]))),
    )


def score(method: str, truth: Sequence[Role], predicted: Sequence[Role],
          packages: Sequence[str]) -> MethodScore:
    """Per-role precision/recall/F1, macro-F1, accuracy and include/leave-out accuracy."""
    roles = []
    for role in Role:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == role and p == role)
        n_pred = sum(1 for p in predicted if p == role)
        n_true = sum(1 for t in truth if t == role)
        if n_true == 0 and n_pred == 0:
            continue
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        roles.append(RoleScore(role, precision, recall, f1, n_true))
    supported = [r.f1 for r in roles if r.support]
    include_right = [t.included == p.included for t, p in zip(truth, predicted, strict=True)]
    per_package: dict[str, list[bool]] = {}
    for name, right in zip(packages, include_right, strict=True):
        per_package.setdefault(name, []).append(right)
    return MethodScore(
        method=method, roles=tuple(roles),
        macro_f1=sum(supported) / len(supported) if supported else 0.0,
        accuracy=sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth),
        include_accuracy=sum(include_right) / len(include_right),
        include_accuracy_packages=sum(sum(v) / len(v) for v in per_package.values())
        / len(per_package),
    )


def _f(value: float) -> str:
    return f"{value:.3f}"


def render_report(report: EvalReport) -> str:
    """The evaluation as markdown (the content of ``models/REPORT.md``); deterministic."""
    by_method = {m.method: m for m in report.methods}
    lines = [
        "# Role classifier: evaluation",
        "",
        "Generated by `sdfgen train --eval`; do not edit by hand.",
        "",
        f"- corpus: `chisel-labels.jsonl.gz` sha256 `{report.corpus_sha256}`",
        f"- {report.files} files in {report.packages} packages, {report.groups} package "
        f"families; {report.folds}-fold cross-validation grouped by family "
        f"(no package, nor a near-copy of it, in both train and test), seed {report.seed}",
        f"- model: logistic regression, C={report.params.c}, features in >= "
        f"{report.params.min_packages} packages, rules' guess as a feature of value "
        f"{RULE_FEATURE_VALUE}, override threshold {OVERRIDE_THRESHOLD}, package weight "
        "1/sqrt(files)",
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(report.libraries.items())),
        f"- rules confident on {_f(report.rules_confident_share)} of the files, "
        f"right there on {_f(report.rules_confident_accuracy)}",
        "",
        "## Summary",
        "",
        "| method | macro-F1 | accuracy | include/leave-out (files) | include/leave-out "
        "(mean over packages) |",
        "|---|---|---|---|---|",
    ]
    labels = {"rules": "(a) rules alone", "model": "(b) model alone",
              "combined": "(c) rules + model"}
    for method in report.methods:
        lines.append(
            f"| {labels.get(method.method, method.method)} | {_f(method.macro_f1)} | "
            f"{_f(method.accuracy)} | {_f(method.include_accuracy)} | "
            f"{_f(method.include_accuracy_packages)} |"
        )
    lines += ["", "## Per role (precision / recall / F1)", "",
              "| role | files | (a) rules | (b) model | (c) combined | F1 (c) - (a) |",
              "|---|---|---|---|---|---|"]
    for role, count in report.label_counts:
        cells: list[str] = []
        f1s: dict[str, float] = {}
        for name in ("rules", "model", "combined"):
            found = [r for r in by_method[name].roles if r.role == role]
            if found:
                cells.append(f"{_f(found[0].precision)} / {_f(found[0].recall)} / "
                             f"{_f(found[0].f1)}")
                f1s[name] = found[0].f1
            else:
                cells.append("-")
                f1s[name] = 0.0
        delta = f1s["combined"] - f1s["rules"]
        lines.append(f"| {role.value} | {count} | {' | '.join(cells)} | {delta:+.3f} |")
    bound = 1.0 - report.rules_confident_include_errors
    lines += [
        "",
        "## What limits it",
        "",
        f"- Confident rules disagree with the human include/leave-out choice on "
        f"{_f(report.rules_confident_include_errors)} of all files, so (c) cannot pass "
        f"{_f(bound)} on include/leave-out with these rules. Those are choices a path does "
        "not show: tools a slice author left out of /usr/bin (binutils, gcc, openjdk), "
        "subsets of fonts, AppArmor profiles and libc6-dev headers, translations one "
        "package (dpkg) ships.",
        "- Where the rules guess, files belong to a few large package families laid out like "
        "nothing else (rabbitmq/erlang, binutils cross ldscripts, openjdk); with the family "
        "held out the model has no evidence for them, so it overturns a rule guess only at "
        f"probability >= {OVERRIDE_THRESHOLD}.",
        "- The corpus has paths only: the model never saw RPM flags or ELF facts, which the "
        "rules use when given (SONAME, ELF type, shebang, %license/%doc/%config); scripts "
        "are therefore found only from facts.",
        "- The rules were written by reading this corpus, so (a) and (c) are optimistic; the "
        "model's figures come from strictly held-out package families. The override "
        "threshold was chosen on this cross-validation.",
        "- Slice names are labels of varying kind: plugins that authors put in `libs` "
        "(iptables xtables, OpenSSL engines) count against `modules` from the rules.",
        "",
    ]
    return "\n".join(lines)
