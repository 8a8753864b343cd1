"""``sdfgen train`` as a user runs it, on a tiny corpus (the real corpus's evaluation is
tests/sdfgen/roles/test_committed_report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdfgen.cli.app import main
from sdfgen.roles.model import MODEL_FILE, load_model
from sdfgen.roles.training import REPORT_FILE


def test_eval_prints_the_report_whatever_the_processes(
        tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--eval", "--corpus", str(tiny_corpus), "--folds", "3",
                 "--jobs", "1"]) == 0
    alone = capsys.readouterr().out
    assert alone.startswith("# Role classifier: evaluation") and "## Reproducibility" in alone
    # Two spawned worker processes fit the same models: the report is identical.
    assert main(["train", "--eval", "--corpus", str(tiny_corpus), "--folds", "3",
                 "--jobs", "2"]) == 0
    assert capsys.readouterr().out == alone


def test_train_writes_model_and_report(tiny_corpus: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models"
    assert main(["train", "--corpus", str(tiny_corpus), "--folds", "3", "-o", str(out)]) == 0
    assert "trained on 54 files" in capsys.readouterr().out
    assert load_model(out).threshold > 0 and (out / REPORT_FILE).is_file()
    assert (out / MODEL_FILE).stat().st_size > 0


def test_missing_corpus_is_one_line_error(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert main(["train", "--eval", "--corpus", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "nope") in err
    assert err.count("\n") == 1
