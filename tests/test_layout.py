"""The test tree itself: pytest's default import mode needs unique test module names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_modules_have_unique_basenames() -> None:
    # Two tests/**/test_x.py would make collection fail with "import file mismatch"
    # (seen when two packages both grew a test_hostile.py).
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
