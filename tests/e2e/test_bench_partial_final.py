"""Smoke run of bench/partial_final.py: every statement's answer checked equal between this
tree and the baseline by the script (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ingest import GENERATOR
from tests.e2e.bench_smoke import smoke


def test_partial_final_smoke(tmp_path: Path) -> None:
    if not GENERATOR.exists():
        pytest.skip(f"{GENERATOR} not found (../shared beside the checkout is needed)")
    report = smoke("partial_final.py", tmp_path / "partial_final.json")
    assert "count(*)" in report["this tree"]
    assert set(report["this tree"]) == set(report["baseline run"])
    assert all(row["cpu_ms"] > 0 for row in report["this tree"].values())
