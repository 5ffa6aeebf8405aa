"""Smoke run of bench/thread_states.py: three trivial servers answer, and only the one whose
middleware keeps the thread state keeps a thread-local from call to call (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.flightsql import thread_states
from tests.e2e.bench_smoke import smoke


@pytest.mark.skipif(not thread_states._SUPPORTED, reason="kept on CPython 3.11 on Linux only")
def test_thread_states_smoke(tmp_path: Path) -> None:
    report = smoke("thread_states.py", tmp_path / "thread_states.json")
    assert report["local_lasts"] == {"middleware": False, "middleware, state kept": True}
    assert set(report["median_ms"]) == {"bare", "middleware", "middleware, state kept"}
