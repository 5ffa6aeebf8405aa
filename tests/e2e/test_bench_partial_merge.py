"""Smoke run of bench/partial_merge.py: both modes answer alike (the script checks), a merge
is made, and the figures are reported (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_partial_merge_smoke(tmp_path: Path) -> None:
    (count,) = smoke("partial_merge.py", tmp_path / "partial_merge.json")["counts"]
    assert count["files"] == 14 and count["merges_made"] >= 1
    assert count["merged_ms"] > 0 and count["off_ms"] > 0
