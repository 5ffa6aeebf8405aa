"""Smoke run of bench/persist_snapshot.py: one small cycle, the two snapshots checked equal
by the script (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_persist_snapshot_smoke(tmp_path: Path) -> None:
    result = smoke("persist_snapshot.py", tmp_path / "persist_snapshot.json")
    assert result["snapshots"] == 3
    assert set(result["this tree"]) == {"p50_ms", "p90_ms", "max_ms"}
