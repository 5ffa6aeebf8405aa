"""Smoke run of bench/buffer_ladder.py: one small cycle of the soak's writes, each engine's
timed answer checked against a plain engine's by the script (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_buffer_ladder_smoke(tmp_path: Path) -> None:
    result = smoke("buffer_ladder.py", tmp_path / "buffer_ladder.json")
    assert result["runs"] == 4  # 64,000 rows in runs of 16,000
    assert set(result["this tree"]) == {
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "max_ms",
        "runs_per_statement",
    }
    assert result["partial_hits"] > 0  # the ladder and the fused final ran, not the plain plan
