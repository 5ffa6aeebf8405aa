"""Running a ``bench/`` script's ``--smoke`` mode from a test, and reading what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def smoke(script: str, out: Path, timeout: float = 240) -> Any:
    """``bench/<script> --smoke --out <out>`` in a fresh interpreter; its JSON report.
    A failed run fails the test with the end of its output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text())
