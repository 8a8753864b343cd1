"""Training and evaluating the role model on the slice corpus.

:func:`train` fits the model on every corpus file and writes ``models/``;
:func:`evaluate` measures rules alone, model alone and the combination (rules where
confident, model otherwise) with package-grouped, nested cross-validation;
:mod:`sdfgen.roles.report` turns the result into ``models/REPORT.md``.

Grouping: a fold never holds a package that another fold trains on. It is stricter than
grouping by package name: packages of one *family* (``openjdk-17-jre-headless`` and
``openjdk-21-jre-headless``, ``binutils`` and ``binutils-aarch64-linux-gnu``) share a
group, because they are near-copies and would otherwise leak each other's labels.

Reproducibility across machines: floating-point sums differ in their last bits between
CPUs (OpenBLAS picks kernels per CPU) and thread counts, so a fit is only equal to a few
decimals elsewhere. What is exact: the folds, the features, the samples. What is robust by
construction: each fit runs on one BLAS/OpenMP thread (threadpoolctl) to a tight tolerance,
so machines land on the same optimum to many more digits than the report shows;
probabilities are rounded to :data:`~sdfgen.roles.model.PROBABILITY_DIGITS` before any
comparison with a threshold; and the threshold choice treats objectives within
:data:`THRESHOLD_TIE` (the report's tolerance) as equal and then takes the highest
threshold, so a choice no longer hangs on a difference in the fourth decimal.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sdfgen.roles.corpus import CorpusPackage, labels_digest, read_labels
from sdfgen.roles.features import RULE_FEATURE_VALUE, PackageContext, feature_row, package_context
from sdfgen.roles.fitting import FitParams, fit_rows, library_versions
from sdfgen.roles.labels import Role, role_for_slice
from sdfgen.roles.model import OVERRIDE_THRESHOLD, RoleModel, combine, save_model
from sdfgen.roles.report import REPORT_TOLERANCE, EvalReport, render_report, score
from sdfgen.roles.rules import RuleDecision, classify_by_rules

REPORT_FILE = "REPORT.md"
INNER_FOLDS = 3  # folds of the cross-validation inside each training set (threshold choice)
THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
# Objectives (macro-F1 + include/leave-out accuracy, up to 2.0) closer than the report's
# tolerance tie, and the highest tied threshold wins: a choice never rests on a difference
# the report does not claim to reproduce, and the model overturns the rules only for a
# clear gain.
THRESHOLD_TIE = REPORT_TOLERANCE
Ranking = list[tuple[Role, float]]
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


def contexts_of(samples: Sequence[Sample]) -> dict[str, PackageContext]:
    """Each package's context, from the paths of its files (as propose builds it)."""
    paths: dict[str, list[str]] = {}
    for sample in samples:
        paths.setdefault(sample.package, []).append(sample.path)
    return {name: package_context(name, found) for name, found in paths.items()}


def fit(samples: Sequence[Sample], params: FitParams,
        contexts: dict[str, PackageContext] | None = None,
        threshold: float = OVERRIDE_THRESHOLD) -> RoleModel:
    """Fit the role model on ``samples`` (contexts from their own paths unless given)."""
    given = contexts if contexts is not None else contexts_of(samples)
    rows = [feature_row(s.path, s.package, given.get(s.package)) for s in samples]
    return fit_rows(rows, [s.package for s in samples], [s.role for s in samples],
                    sample_weights(samples), params, threshold)


@dataclass(frozen=True)
class FitTask:
    """One fit of a cross-validation: train on ``train`` (indices into the samples), rank
    ``test``."""

    train: tuple[int, ...]
    test: tuple[int, ...]


def cross_tasks(samples: Sequence[Sample], members: Sequence[int], folds: int,
                seed: int) -> list[FitTask]:
    """The fits of a grouped cross-validation over ``members`` (indices into ``samples``):
    each member is ranked by a model that saw no package of its family."""
    fold_of = group_folds([samples[i] for i in members], folds, seed)
    tasks = []
    for fold in range(folds):
        train = tuple(i for i, f in zip(members, fold_of, strict=True) if f != fold)
        test = tuple(i for i, f in zip(members, fold_of, strict=True) if f == fold)
        if train and test:
            tasks.append(FitTask(train, test))
    return tasks


# What a worker process fits on, set once per process by _start_worker.
_WORKER: tuple[Sequence[Sample], Sequence[tuple[str, ...]], FitParams] | None = None


def _start_worker(samples: Sequence[Sample], rows: Sequence[tuple[str, ...]],
                  params: FitParams) -> None:
    global _WORKER
    _WORKER = (samples, rows, params)


def _run_task(task: FitTask) -> dict[int, Ranking]:
    """Fit on ``task.train`` and rank ``task.test`` (in a worker started by _start_worker)."""
    assert _WORKER is not None, "worker not started"
    samples, rows, params = _WORKER
    subset = [samples[i] for i in task.train]
    model = fit_rows([rows[i] for i in task.train], [s.package for s in subset],
                     [s.role for s in subset], sample_weights(subset), params)
    return {i: model.predict_features(rows[i]) for i in task.test}


def run_tasks(tasks: Sequence[FitTask], samples: Sequence[Sample],
              rows: Sequence[tuple[str, ...]], params: FitParams,
              jobs: int = 1) -> list[dict[int, Ranking]]:
    """The rankings of each task, fitted in ``jobs`` processes.

    Each fit is independent and single-threaded, so the result does not depend on ``jobs``;
    processes are spawned, not forked (a fork would copy the caller's threads' locks).
    """
    if jobs <= 1 or len(tasks) <= 1:
        _start_worker(samples, rows, params)
        return [_run_task(task) for task in tasks]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                             initializer=_start_worker,
                             initargs=(samples, rows, params)) as pool:
        return list(pool.map(_run_task, tasks))


def default_jobs() -> int:
    """Processes for the fits of an evaluation: one per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def threshold_objectives(samples: Sequence[Sample], ruled: Sequence[RuleDecision],
                         ranked: dict[int, Ranking]) -> tuple[float, ...]:
    """For each threshold of THRESHOLD_GRID, macro-F1 plus include/leave-out accuracy of the
    combination on the files ``ranked`` holds (empty without rankings)."""
    members = sorted(ranked)
    if not members:
        return ()
    truth = [samples[i].role for i in members]
    names = [samples[i].package for i in members]
    objectives = []
    for threshold in THRESHOLD_GRID:
        predicted = [combine(ruled[i], ranked[i], threshold).role for i in members]
        result = score("threshold", truth, predicted, names)
        objectives.append(result.macro_f1 + result.include_accuracy)
    return tuple(objectives)


def choose_threshold(objectives: Sequence[float]) -> float:
    """The highest threshold of THRESHOLD_GRID whose objective is within THRESHOLD_TIE of
    the best (OVERRIDE_THRESHOLD without objectives).

    Callers give objectives from cross-validation *inside* a training set, so the threshold
    used on a held-out fold was never tuned on it.
    """
    if not objectives:
        return OVERRIDE_THRESHOLD
    best = max(objectives)
    tied = [t for t, value in zip(THRESHOLD_GRID, objectives, strict=True)
            if value >= best - THRESHOLD_TIE]
    return max(tied)


def choice_margin(objectives: Sequence[float]) -> float:
    """How far every objective may move (each by at most this much, in any direction)
    before :func:`choose_threshold` would choose another threshold (0.0 without objectives).

    The choice c stands while c ties with the best of the others and every higher
    threshold stays below the best of the others minus the tie.
    """
    if len(objectives) < 2:
        return 0.0
    chosen = THRESHOLD_GRID.index(choose_threshold(objectives))

    def best_other(index: int) -> float:
        return max(value for i, value in enumerate(objectives) if i != index)

    gaps = [objectives[chosen] + THRESHOLD_TIE - best_other(chosen)]
    gaps += [best_other(i) - THRESHOLD_TIE - objectives[i]
             for i in range(chosen + 1, len(objectives))]
    return min(gaps) / 2


def train(corpus_dir: Path, out_dir: Path, seed: int = 0, folds: int = 5,
          jobs: int | None = None) -> TrainResult:
    """Fit on the whole corpus; write model, metadata (with CV metrics) and REPORT.md."""
    packages = read_labels(corpus_dir)
    samples = samples_of(packages)
    params = FitParams(seed=seed)
    report = evaluate(corpus_dir, folds=folds, seed=seed, jobs=jobs)
    start = time.perf_counter()
    model = fit(samples, params, threshold=report.threshold)
    seconds = time.perf_counter() - start
    metadata: dict[str, object] = {
        "training_data": {"file": "chisel-labels.jsonl.gz", "sha256": labels_digest(corpus_dir),
                          "packages": len(packages), "files": len(samples)},
        "libraries": library_versions(),
        "labels": [role.value for role in model.classes],
        "params": {"c": params.c, "min_packages": params.min_packages,
                   "solver": params.solver, "max_iter": params.max_iter, "tol": params.tol,
                   "seed": params.seed,
                   "override_threshold": report.threshold},
        "features": len(model.weights),
        "metrics": report_metrics(report),
        "cv": {"folds": folds, "grouping": "package family", "inner_folds": INNER_FOLDS,
               "fold_thresholds": list(report.fold_thresholds),
               "threshold_tie": THRESHOLD_TIE},
    }
    path = save_model(model, out_dir, metadata)
    report_path = out_dir / REPORT_FILE
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(render_report(report), encoding="utf-8")
    tmp.replace(report_path)
    return TrainResult(path, len(samples), seconds)


def report_metrics(report: EvalReport) -> dict[str, dict[str, object]]:
    """Every figure of the report per method (the metadata keeps them at full precision, so
    a later run can be compared with them within a tolerance)."""
    return {
        method.method: {
            "macro_f1": method.macro_f1, "accuracy": method.accuracy,
            "include_accuracy": method.include_accuracy,
            "include_accuracy_packages": method.include_accuracy_packages,
            "roles": {role.role.value: [role.precision, role.recall, role.f1]
                      for role in method.roles},
        }
        for method in report.methods
    }


def evaluate(corpus_dir: Path, folds: int = 5, seed: int = 0,
             jobs: int | None = None) -> EvalReport:
    """Package-grouped cross-validation of rules alone, model alone and the combination.

    The combination's override threshold for each held-out fold is chosen by a grouped
    INNER_FOLDS-fold cross-validation inside that fold's training set (nested CV). The
    fits (``folds`` outer, ``folds * INNER_FOLDS`` inner) run in ``jobs`` processes
    (default: one per core); the result is the same for any number.
    """
    packages = read_labels(corpus_dir)
    samples = samples_of(packages)
    params = FitParams(seed=seed)
    fold_of = group_folds(samples, folds, seed)
    ruled = [classify_by_rules(s.path, s.package) for s in samples]
    contexts = contexts_of(samples)  # each from its own package's paths, never its labels
    rows = [feature_row(s.path, s.package, contexts[s.package]) for s in samples]
    everyone = list(range(len(samples)))
    outer_tasks = cross_tasks(samples, everyone, folds, seed)
    inner_tasks = {
        fold: cross_tasks(samples, [i for i in everyone if fold_of[i] != fold], INNER_FOLDS,
                          seed)
        for fold in range(folds)
        if any(f == fold for f in fold_of) and any(f != fold for f in fold_of)
    }
    tasks = outer_tasks + [task for fold_tasks in inner_tasks.values() for task in fold_tasks]
    ranked = iter(run_tasks(tasks, samples, rows, params,
                            default_jobs() if jobs is None else jobs))
    outer: dict[int, Ranking] = {}
    for _ in outer_tasks:
        outer.update(next(ranked))
    thresholds: list[float] = []
    fold_objectives: list[tuple[float, ...]] = []
    combined = [r.role for r in ruled]
    for fold, fold_tasks in inner_tasks.items():
        inner: dict[int, Ranking] = {}
        for _ in fold_tasks:
            inner.update(next(ranked))
        objectives = threshold_objectives(samples, ruled, inner)
        threshold = choose_threshold(objectives)
        thresholds.append(threshold)
        fold_objectives.append(objectives)
        for i in everyone:
            if fold_of[i] == fold and i in outer:
                combined[i] = combine(ruled[i], outer[i], threshold).role
    shipped = threshold_objectives(samples, ruled, outer)  # the threshold of the shipped model
    model_roles = [outer[i][0][0] if i in outer else ruled[i].role for i in everyone]
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
        seed=seed, params=params, feature_value=RULE_FEATURE_VALUE,
        libraries=library_versions(),
        methods=(
            score("rules", truth, [r.role for r in ruled], names),
            score("model", truth, model_roles, names),
            score("combined", truth, combined, names),
        ),
        rules_confident_share=n_conf / len(samples),
        rules_confident_accuracy=conf_right / n_conf if n_conf else 0.0,
        rules_confident_include_errors=conf_include_wrong / len(samples),
        label_counts=tuple(sorted(Counter(truth).items(), key=lambda kv: list(Role).index(kv[0]))),
        fold_thresholds=tuple(thresholds), threshold=choose_threshold(shipped),
        threshold_margin=choice_margin(shipped),
        threshold_grid=THRESHOLD_GRID, inner_folds=INNER_FOLDS, threshold_tie=THRESHOLD_TIE,
        fold_margins=tuple(choice_margin(o) for o in fold_objectives),
    )
