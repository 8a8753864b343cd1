"""Training end to end on a tiny corpus written in the corpus format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sdfgen.roles.corpus import CorpusError, CorpusPackage, LabeledFile, read_labels, write_labels
from sdfgen.roles.labels import Role
from sdfgen.roles.model import MODEL_FILE, load_model
from sdfgen.roles.training import (
    REPORT_FILE,
    evaluate,
    group_folds,
    package_family,
    render_report,
    samples_of,
    train,
)


def _package(name: str, soname: str) -> CorpusPackage:
    files = [
        (f"/usr/lib/x86_64-linux-gnu/lib{soname}.so.1", "libs"),
        (f"/usr/lib/x86_64-linux-gnu/lib{soname}.so.1.0.0", "libs"),
        (f"/usr/share/doc/{name}/copyright", "copyright"),
        (f"/usr/share/doc/{name}/changelog.gz", None),
        (f"/usr/share/man/man1/{soname}.1.gz", None),
        (f"/usr/bin/{soname}", "bins"),
        (f"/usr/share/{name}/{soname}.dat", "data"),
        (f"/usr/lib/{name}/plugins/{soname}-extra.so", "modules"),
        (f"/etc/{name}/{soname}.conf", "config"),
    ]
    return CorpusPackage(name, "ubuntu-24.04", "bookworm", 1.0,
                         tuple(LabeledFile(p, s) for p, s in files))


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    write_labels(corpus / "chisel-labels.jsonl.gz", [_package(n, n[:3] + "x") for n in names])
    return corpus


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


def test_group_folds_keep_families_together() -> None:
    packages = [_package(n, "x") for n in
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
    from sdfgen.roles.model import THRESHOLD_GRID

    report = evaluate(tiny_corpus, folds=3, seed=0)
    assert len(report.fold_thresholds) == 3
    assert set(report.fold_thresholds) <= set(THRESHOLD_GRID)
    assert report.threshold in THRESHOLD_GRID
    assert "chosen from 0.5, 0.6" in render_report(report)


def test_choose_threshold_prefers_the_better_policy() -> None:
    from sdfgen.roles.rules import RuleDecision
    from sdfgen.roles.training import Sample, choose_threshold

    samples = [Sample(f"/usr/share/x/{i}", "x", Role.MODULES) for i in range(4)]
    ruled = [RuleDecision(Role.DATA, False, "guess")] * 4
    # The model is right at 0.75: only thresholds up to 0.7 let it overturn the guess.
    ranked = {i: [(Role.MODULES, 0.75), (Role.DATA, 0.25)] for i in range(4)}
    assert choose_threshold(samples, ruled, ranked) == 0.7
    # Without rankings (no inner folds) the default stands.
    assert choose_threshold(samples, ruled, {}) == 0.9
