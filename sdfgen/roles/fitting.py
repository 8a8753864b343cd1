"""Fitting the role model with scikit-learn (the one module that imports it).

In: feature rows (:func:`~sdfgen.roles.features.feature_row`), labels and sample weights.
Out: a :class:`~sdfgen.roles.model.RoleModel` of plain weights (rounded, so the model file
is small and reproducible). Only ``sdfgen train`` imports this module: applying the model
needs neither numpy nor scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sdfgen.roles.features import PackageContext, feature_row, feature_value
from sdfgen.roles.labels import Role
from sdfgen.roles.model import OVERRIDE_THRESHOLD, RoleModel

_WEIGHT_DIGITS = 4  # weights are rounded so the file is small and reproducible


@dataclass(frozen=True)
class FitParams:
    """Hyper-parameters of :func:`fit_model` (recorded in the metadata)."""

    c: float = 4.0  # inverse L2 strength of the logistic regression
    min_packages: int = 2  # a feature must occur in this many packages to enter the vocabulary
    # Newton-CG to a tight gradient tolerance: the penalty is weak (C is large against the
    # corpus), so the problem is badly conditioned and lbfgs at its default tolerance stops
    # far from the optimum, at a point that depends on the CPU's rounding (probabilities
    # 0.017 apart between two BLAS kernels). Newton-CG reaches the unique optimum in ~16
    # iterations; two kernels then agree to 3e-5.
    solver: str = "newton-cg"
    tol: float = 1e-8
    max_iter: int = 100
    seed: int = 0


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
    from threadpoolctl import threadpool_limits

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
        values.extend(feature_value(f) for f in kept)
        indptr.append(len(indices))
    matrix = csr_matrix(
        (np.array(values), np.array(indices, dtype=np.int64), np.array(indptr)),
        shape=(len(rows), len(vocabulary)),
    )
    classes = sorted(set(labels), key=list(Role).index)
    target = np.array([classes.index(label) for label in labels])
    estimator = LogisticRegression(C=params.c, solver=params.solver, max_iter=params.max_iter,
                                   tol=params.tol, random_state=params.seed)
    # One thread for BLAS and OpenMP: a sum's order, and so its last bits, then no longer
    # depends on how many cores the machine has.
    with threadpool_limits(limits=1):
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
    import threadpoolctl

    return {"scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "threadpoolctl": threadpoolctl.__version__}
