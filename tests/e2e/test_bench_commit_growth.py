"""Smoke run of bench/commit_growth.py: both variants persist and compact, and the report has
their figures (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_commit_growth_smoke(tmp_path: Path) -> None:
    report = smoke("commit_growth.py", tmp_path / "commit_growth.json")
    for name in ("kept 8 (this tree)", "kept 100 (default)"):
        assert set(report[name]) == {"first_10_wall_ms", "last_20_wall_ms", "last_20_cpu_ms"}
    assert report["ratio_last_20"] > 0
