"""Smoke run of bench/query_overhead.py: the answers are checked, every client and target is
timed, and the plot is drawn where matplotlib is installed (it is not in the ``test`` extra;
no timings asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.bench_smoke import ROOT

GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"


@pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs/gen_cpu.py")
def test_query_overhead_smoke(tmp_path: Path) -> None:
    out, png = tmp_path / "overhead.json", tmp_path / "overhead.png"
    plots = importlib.util.find_spec("matplotlib") is not None
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "query_overhead.py"), "--smoke",
         "--out", str(out), *(["--png", str(png)] if plots else [])],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["runs"] == 5
    clients = ("adbc_driver_flightsql", "adbc_driver_flight_iox")
    targets = ("trivial server (constant)", "flight-iox SELECT 1",
               "flight-iox single-groupby-1-1-1")  # fmt: skip
    assert set(report["median_ms"]) == {f"{c}: {t}" for c in clients for t in targets}
    assert all(ms > 0 for ms in report["median_ms"].values())
    assert not plots or png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
