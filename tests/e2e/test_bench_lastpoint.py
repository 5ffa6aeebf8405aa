"""Smoke runs of bench/lastpoint_sql.py and bench/query_profile.py (answers checked, no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"


@pytest.mark.slow
@pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs/gen_cpu.py")
def test_lastpoint_sql_smoke(tmp_path: Path) -> None:
    out = tmp_path / "lastpoint.json"
    command = [sys.executable, str(ROOT / "bench" / "lastpoint_sql.py"), "--hosts", "3",
               "--hours", "1", "--runs", "1", "--warmup", "0", "--writes",
               "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    medians = json.loads(out.read_text())["median_ms"]
    assert {"DISTINCT ON / rewrite", "DISTINCT ON / plain plan"} <= set(medians)


@pytest.mark.slow
def test_query_profile_smoke(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    command = [sys.executable, str(ROOT / "bench" / "query_profile.py"), "--runs", "3",
               "--warmup", "1", "--top", "3", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert set(summary["server_ms_per_query"]) == {"get_flight_info", "do_get", "do_action"}
