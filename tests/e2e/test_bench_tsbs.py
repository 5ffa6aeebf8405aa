"""Smoke run of bench/tsbs.py: it still runs end to end and both servers agree (no timings)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"


@pytest.mark.skipif(shutil.which("influxd") is None, reason="needs Debian's influxd")
@pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs/gen_cpu.py")
def test_tsbs_smoke(tmp_path: Path) -> None:
    out = tmp_path / "tsbs.json"
    command = [sys.executable, str(ROOT / "bench" / "tsbs.py"), "--hosts", "3", "--hours", "1",
               "--runs", "1", "--warmup", "0", "--ingest-runs", "1", "--clients", "1",
               "--out", str(out), "--no-plot"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(out.read_text())
    names = {q["name"] for q in summary["queries"]}
    assert {"single-groupby-1-1-1", "lastpoint", "high-cpu-all"} <= names
    rows = {q["name"]: q["rows"] for q in summary["queries"]}
    assert rows["lastpoint"] == 3 and rows["single-groupby-1-1-1"] > 0
    assert summary["storage"]["flight_iox_bytes"] > 0
