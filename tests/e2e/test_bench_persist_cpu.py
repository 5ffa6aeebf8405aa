"""Smoke run of bench/persist_cpu.py: both trees persist alike and CPU is reported (no
timings asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_persist_cpu_smoke(tmp_path: Path) -> None:
    out = tmp_path / "persist_cpu.json"
    script = str(ROOT / "bench" / "persist_cpu.py")
    done = subprocess.run(
        [sys.executable, script, "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["rows_per_persist"] == 10_000
    assert set(report["persist_cpu_ms"]) == {"baseline", "this tree"}
    assert all(ms > 0 for ms in report["persist_cpu_ms"].values())
