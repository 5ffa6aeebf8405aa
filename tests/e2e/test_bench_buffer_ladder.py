"""Smoke run of bench/buffer_ladder.py: one small cycle of the soak's writes, the ladder's and
the big segments' answers checked equal at every run by the script (no timings asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_buffer_ladder_smoke(tmp_path: Path) -> None:
    out = tmp_path / "buffer_ladder.json"
    script = str(ROOT / "bench" / "buffer_ladder.py")
    done = subprocess.run([sys.executable, script, "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["runs"] == 4  # 64,000 rows in runs of 16,000
    assert set(result["this tree"]) == {"p50_ms", "p90_ms", "p99_ms", "max_ms"}
    assert result["partial_hits"] > 0  # the ladder and the fused final ran, not the plain plan
