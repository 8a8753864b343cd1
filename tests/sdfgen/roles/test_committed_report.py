"""The committed models/ reproduce from the real corpus on this machine, whatever its CPU.

One nested cross-validation over the real corpus (the slow part: 20 fits) is shared by
every test here. Thresholds must be equal; every figure within REPORT_TOLERANCE of the
committed one (floating-point sums differ between CPUs' BLAS kernels: see
models/REPORT.md, "Reproducibility").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sdfgen.roles.model import DEFAULT_MODEL_DIR, META_FILE
from sdfgen.roles.report import REPORT_TOLERANCE, EvalReport, render_report
from sdfgen.roles.training import THRESHOLD_TIE, evaluate, report_metrics

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"

_NUMBER = re.compile(r"[-+]?\d+\.\d+|\d+")


@pytest.fixture(scope="module")
def fresh() -> EvalReport:
    """``sdfgen train --eval``'s evaluation, run once on the real corpus."""
    assert (CORPUS / "chisel-labels.jsonl.gz").is_file(), f"corpus missing at {CORPUS}"
    return evaluate(CORPUS)


@pytest.fixture(scope="module")
def committed() -> dict[str, object]:
    meta = json.loads((DEFAULT_MODEL_DIR / META_FILE).read_text(encoding="utf-8"))
    assert isinstance(meta, dict)
    return meta


def _figures(tree: object, prefix: str = "") -> dict[str, float]:
    """Every number of a nested dict/list, keyed by its path."""
    found: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, sub in tree.items():
            found.update(_figures(sub, f"{prefix}/{key}"))
        return found
    if isinstance(tree, list):
        for index, sub in enumerate(tree):
            found.update(_figures(sub, f"{prefix}[{index}]"))
        return found
    assert isinstance(tree, int | float), f"{prefix}: {tree!r} is not a number"
    return {prefix: float(tree)}


def test_thresholds_are_equal(fresh: EvalReport, committed: dict) -> None:  # type: ignore[type-arg]
    assert list(fresh.fold_thresholds) == committed["cv"]["fold_thresholds"]
    assert fresh.threshold == committed["params"]["override_threshold"]
    assert committed["cv"]["threshold_tie"] == THRESHOLD_TIE


def test_metrics_are_within_tolerance(fresh: EvalReport, committed: dict) -> None:  # type: ignore[type-arg]
    now, then = _figures(report_metrics(fresh)), _figures(committed["metrics"])
    assert now.keys() == then.keys()
    off = {key: (now[key], then[key]) for key in now
           if abs(now[key] - then[key]) > REPORT_TOLERANCE}
    assert not off, f"figures beyond {REPORT_TOLERANCE} of the committed ones: {off}"


def test_report_text_reproduces(fresh: EvalReport) -> None:
    """REPORT.md's words and counts are exact; its figures within tolerance."""
    committed_text = (DEFAULT_MODEL_DIR / "REPORT.md").read_text(encoding="utf-8")
    fresh_text = render_report(fresh)

    def skeleton(text: str) -> tuple[list[str], list[str]]:
        # Library versions may differ from the committed ones outside `make`'s pins.
        kept = [line for line in text.splitlines() if not line.startswith("- libraries:")]
        joined = "\n".join(kept)
        return _NUMBER.split(joined), _NUMBER.findall(joined)

    words_now, numbers_now = skeleton(fresh_text)
    words_then, numbers_then = skeleton(committed_text)
    assert words_now == words_then
    assert len(numbers_now) == len(numbers_then)
    for now, then in zip(numbers_now, numbers_then, strict=True):
        if "." in then:
            assert abs(float(now) - float(then)) <= REPORT_TOLERANCE + 1e-9, (now, then)
        else:
            assert now == then  # counts, folds, seed


def test_report_states_the_tolerance() -> None:
    text = (DEFAULT_MODEL_DIR / "REPORT.md").read_text(encoding="utf-8")
    assert f"within {REPORT_TOLERANCE}" in text
