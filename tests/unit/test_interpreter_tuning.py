"""The server's interpreter settings: what start-up built is frozen, the switch is short."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from flight_iox.interpreter_tuning import SWITCH_INTERVAL_S, steady_interpreter

ROOT = Path(__file__).resolve().parents[2]


def test_steady_interpreter_freezes_and_shortens_the_switch() -> None:
    before = sys.getswitchinterval()
    try:
        steady_interpreter()
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)


def test_interpreter_pauses_bench_smoke(tmp_path: Path) -> None:
    """bench/interpreter_pauses.py runs and reports both pauses (no timing asserted)."""
    out = tmp_path / "pauses.json"
    script = str(ROOT / "bench" / "interpreter_pauses.py")
    done = subprocess.run([sys.executable, script, "--rounds", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["tracked_objects"] > 10_000  # the server's modules and app were built
    assert set(result["full_collection_ms"]) == {"default", "frozen"}
    assert len(result["200_calls_ms"]) == 3
