"""Smoke run of bench/plan_growth.py (the answer's group count is checked; no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plan_growth_smoke(tmp_path: Path) -> None:
    out = tmp_path / "plan_growth.json"
    command = [sys.executable, str(ROOT / "bench" / "plan_growth.py"), "--smoke", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    medians = json.loads(out.read_text())["this tree"]
    assert set(medians) == {"1", "3"}
    assert all(seconds > 0 for seconds in medians.values())
