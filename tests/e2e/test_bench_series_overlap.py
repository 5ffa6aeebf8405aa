"""Smoke run of bench/series_overlap.py: both modes run, answer alike and are reported (no
timings asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_series_overlap_smoke() -> None:
    script = str(ROOT / "bench" / "series_overlap.py")
    done = subprocess.run(
        [sys.executable, script, "--persists", "2", "--rows", "8000", "--rounds", "1"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert set(lines) == {"files_rewritten", "compact_s", "query_ms", "files at the end"}
    rewritten = re.findall(r"[\d.]+", lines["files_rewritten"])
    assert float(rewritten[0]) == 0 and float(rewritten[1]) == 2  # on: none; bounds: both
