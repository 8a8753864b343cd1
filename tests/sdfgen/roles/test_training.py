"""Training end to end on a tiny corpus written in the corpus format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sdfgen.roles.corpus import CorpusError, read_labels
from sdfgen.roles.labels import Role
from sdfgen.roles.model import MODEL_FILE, load_model
from sdfgen.roles.report import render_report
from sdfgen.roles.training import (
    REPORT_FILE,
    evaluate,
    group_folds,
    package_family,
    samples_of,
    train,
)


def test_train_writes_a_loadable_model(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    result = train(tiny_corpus, out, seed=0, folds=3)
    assert result.model_path == out / MODEL_FILE and result.samples == 54
    model = load_model(out)
    assert model.predict("/usr/share/doc/golf/changelog.gz", "golf")[0][0] is Role.LEFT_OUT
    assert model.predict("/usr/lib/x86_64-linux-gnu/libgolx.so.1", "golf")[0][0] is Role.LIBS
    report = (out / REPORT_FILE).read_text()
    assert "| (c) rules + model |" in report
    # Deterministic: a second run writes byte-identical files.
    again = tmp_path / "again"
    train(tiny_corpus, again, seed=0, folds=3)
    for name in (MODEL_FILE, REPORT_FILE, "role-model.meta.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_evaluate_is_grouped_and_reproducible(tiny_corpus: Path) -> None:
    first = evaluate(tiny_corpus, folds=3, seed=0)
    assert render_report(first) == render_report(evaluate(tiny_corpus, folds=3, seed=0))
    assert [m.method for m in first.methods] == ["rules", "model", "combined"]
    assert first.files == 54 and first.groups == 6
    combined = first.methods[2]
    assert 0.0 <= combined.include_accuracy <= 1.0


def test_group_folds_keep_families_together(corpus_package) -> None:  # type: ignore[no-untyped-def]
    packages = [corpus_package(n, "x") for n in
                ["openjdk-17-jre", "openjdk-21-jre", "binutils", "binutils-aarch64-linux-gnu",
                 "zlib1g", "libssl3t64"]]
    samples = samples_of(packages)
    folds = group_folds(samples, 3, seed=0)
    fold_of: dict[str, set[int]] = {}
    for sample, fold in zip(samples, folds, strict=True):
        fold_of.setdefault(package_family(sample.package), set()).add(fold)
    assert all(len(f) == 1 for f in fold_of.values())
    assert package_family("openjdk-17-jre") == package_family("openjdk-21-jre")
    assert package_family("binutils-aarch64-linux-gnu") == "binutils"


def test_corpus_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus label file not found"):
        read_labels(tmp_path)
    bad = tmp_path / "chisel-labels.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"package": "x", "files": [["relative", "libs"]]}\n'))
    with pytest.raises(CorpusError, match=r"chisel-labels\.jsonl\.gz:1: package x: bad file entry"):
        read_labels(tmp_path)
    bad.write_bytes(gzip.compress(b"not json\n"))
    with pytest.raises(CorpusError, match=r":1: not valid JSON"):
        read_labels(tmp_path)
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match="cannot read corpus label file"):
        read_labels(tmp_path)


def test_threshold_is_chosen_inside_the_training_folds(tiny_corpus: Path) -> None:
    from sdfgen.roles.training import THRESHOLD_GRID

    report = evaluate(tiny_corpus, folds=3, seed=0)
    assert len(report.fold_thresholds) == 3
    assert set(report.fold_thresholds) <= set(THRESHOLD_GRID)
    assert report.threshold in THRESHOLD_GRID
    assert "chosen from 0.5, 0.6" in render_report(report)


def test_choose_threshold_prefers_the_better_policy() -> None:
    from sdfgen.roles.rules import RuleDecision
    from sdfgen.roles.training import Sample, choose_threshold, threshold_objectives

    samples = [Sample(f"/usr/share/x/{i}", "x", Role.MODULES) for i in range(4)]
    ruled = [RuleDecision(Role.DATA, False, "guess")] * 4
    # The model is right at 0.75: only thresholds up to 0.7 let it overturn the guess.
    ranked = {i: [(Role.MODULES, 0.75), (Role.DATA, 0.25)] for i in range(4)}
    assert choose_threshold(threshold_objectives(samples, ruled, ranked)) == 0.7
    # Without rankings (no inner folds) the default stands.
    assert threshold_objectives(samples, ruled, {}) == ()
    assert choose_threshold(()) == 0.9


def test_choose_threshold_breaks_near_ties_toward_the_higher_threshold() -> None:
    from sdfgen.roles.training import THRESHOLD_GRID, THRESHOLD_TIE, choose_threshold

    flat = [1.5] * len(THRESHOLD_GRID)
    assert choose_threshold(flat) == THRESHOLD_GRID[-1]
    # 0.6 is best, but 0.9 is within the tie: a difference another CPU could make.
    near = [1.5, 1.6, 1.55, 1.55, 1.55, 1.6 - THRESHOLD_TIE / 2, 1.5, 1.5]
    assert choose_threshold(near) == 0.9
    # Just outside the tie the better threshold wins.
    clear = [1.5, 1.6, 1.55, 1.55, 1.55, 1.6 - THRESHOLD_TIE * 2, 1.5, 1.5]
    assert choose_threshold(clear) == 0.6


def test_choice_margin_is_the_move_that_flips_the_choice() -> None:
    from sdfgen.roles.training import THRESHOLD_TIE, choice_margin, choose_threshold

    objectives = [1.5, 1.6, 1.55, 1.55, 1.55, 1.5995, 1.5, 1.5]  # 0.9 ties with 0.6
    margin = choice_margin(objectives)
    assert margin == pytest.approx((1.5995 + THRESHOLD_TIE - 1.6) / 2)
    assert choose_threshold(objectives) == 0.9
    # Moving 0.9 down and 0.6 up by a bit more than the margin flips the choice.
    moved = list(objectives)
    moved[1] += margin * 1.01
    moved[5] -= margin * 1.01
    assert choose_threshold(moved) == 0.6
    # A clear winner at the top of the grid: the margin is how far the others are.
    top = [1.5] * 7 + [1.6]
    assert choice_margin(top) == pytest.approx((1.6 + THRESHOLD_TIE - 1.5) / 2)


def test_probabilities_are_rounded_before_the_threshold() -> None:
    from sdfgen.roles.model import combine
    from sdfgen.roles.rules import RuleDecision

    guess = RuleDecision(Role.DATA, False, "guess")
    # 0.89996 and 0.90004 are one fit on two CPUs: both overturn a guess at 0.9.
    for p in (0.89996, 0.90004):
        decision = combine(guess, [(Role.MODULES, p), (Role.DATA, 1 - p)], 0.9)
        assert decision.role is Role.MODULES
    assert combine(guess, [(Role.MODULES, 0.8994), (Role.DATA, 0.1006)], 0.9).role is Role.DATA
