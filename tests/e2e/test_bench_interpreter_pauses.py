"""Smoke run of bench/interpreter_pauses.py: both pauses measured and reported (no timings
asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_interpreter_pauses_smoke(tmp_path: Path) -> None:
    out = tmp_path / "pauses.json"
    script = str(ROOT / "bench" / "interpreter_pauses.py")
    done = subprocess.run([sys.executable, script, "--rounds", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["tracked_objects"] > 10_000  # the server's modules and app were built
    assert set(result["full_collection_ms"]) == {"default", "frozen"}
    assert len(result["200_calls_ms"]) == 3
