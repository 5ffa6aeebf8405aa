"""Smoke run of bench/tsbs.py: it still runs end to end and both servers agree (no timings).

It runs in this process, as the peers smoke does, so its flight-iox server forks from the
tests' zygote instead of a fresh interpreter importing the bench and then the server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import tsbs

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"


@pytest.mark.skipif(shutil.which("influxd") is None, reason="needs Debian's influxd")
@pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs/gen_cpu.py")
def test_tsbs_smoke(tmp_path: Path) -> None:
    out = tmp_path / "tsbs.json"
    tsbs.main(["--hosts", "3", "--hours", "1", "--runs", "1", "--warmup", "0",
               "--ingest-runs", "1", "--clients", "1", "--out", str(out), "--no-plot"])  # fmt: skip
    summary = json.loads(out.read_text())
    names = {q["name"] for q in summary["queries"]}
    assert {"single-groupby-1-1-1", "lastpoint", "high-cpu-all"} <= names
    rows = {q["name"]: q["rows"] for q in summary["queries"]}
    assert rows["lastpoint"] == 3 and rows["single-groupby-1-1-1"] > 0
    assert summary["storage"]["flight_iox_bytes"] > 0
