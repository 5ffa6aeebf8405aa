"""Smoke run of bench/persist_cpu.py: both trees keep the same rows (the script checks) and
each persist's CPU is reported (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_persist_cpu_smoke(tmp_path: Path) -> None:
    report = smoke("persist_cpu.py", tmp_path / "persist_cpu.json")
    assert report["rows_per_persist"] == 10_000
    assert set(report["persist_cpu_ms"]) == {"baseline", "this tree"}
    assert all(ms > 0 for ms in report["persist_cpu_ms"].values())
