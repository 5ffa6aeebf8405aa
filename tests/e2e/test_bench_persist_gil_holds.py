"""Smoke run of bench/persist_gil_holds.py: persists run with the probe beside them and the
report names its places (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.bench_smoke import smoke


def test_persist_gil_holds_smoke(tmp_path: Path) -> None:
    report = smoke("persist_gil_holds.py", tmp_path / "persist_gil_holds.json")
    assert report["rows_per_persist"] == 10_000 and len(report["persist_wall_s"]) == 2
    assert set(report["outside_persists_ms"]) == {"median", "max"}
    assert all({"place", "longest_ms", "seen"} == set(hold) for hold in report["holds"])
