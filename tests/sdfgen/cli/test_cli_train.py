"""``sdfgen train --eval`` reproduces the committed models/REPORT.md from the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdfgen.cli.app import main

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus"


def test_eval_reproduces_committed_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert (CORPUS / "chisel-labels.jsonl.gz").is_file(), f"corpus missing at {CORPUS}"
    assert main(["train", "--eval", "--corpus", str(CORPUS)]) == 0
    assert capsys.readouterr().out == (ROOT / "models" / "REPORT.md").read_text(encoding="utf-8")


def test_missing_corpus_is_one_line_error(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert main(["train", "--eval", "--corpus", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "nope") in err
    assert err.count("\n") == 1
