"""Smoke run of bench/buffer_segments.py: 4,096-row segments over 30,000 buffered rows with
late batches, answers with segments kept and off checked equal by the script (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_buffer_segments_smoke(tmp_path: Path) -> None:
    out = tmp_path / "buffer_segments.json"
    script = str(ROOT / "bench" / "buffer_segments.py")
    done = subprocess.run([sys.executable, script, "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["segment_rows"] == 4_096
    assert [size["buffer_rows"] for size in result["sizes"]] == [30_000]
