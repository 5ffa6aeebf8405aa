"""Smoke run of bench/partial_merge.py: both modes answer alike, a merge is made, and the
figures are reported (no timings asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_partial_merge_smoke(tmp_path: Path) -> None:
    out = tmp_path / "partial_merge.json"
    script = str(ROOT / "bench" / "partial_merge.py")
    done = subprocess.run(
        [sys.executable, script, "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (count,) = json.loads(out.read_text())["counts"]
    assert count["files"] == 14 and count["merges_made"] >= 1
    assert count["merged_ms"] > 0 and count["off_ms"] > 0
