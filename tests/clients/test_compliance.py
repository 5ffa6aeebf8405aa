"""SQLAlchemy's dialect compliance suite against a real server (slow-marked; a few seconds).

Run with ``pytest -m slow tests/clients/test_compliance.py``; the counts are in
docs/clients.md. Every test that applies to flight-iox must pass: what it lacks is
stated by ``sqlalchemy_flight_iox.requirements``, and those tests are skipped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

COMPLIANCE = Path(__file__).resolve().parents[1] / "compliance"


@pytest.mark.slow
def test_sqlalchemy_compliance_suite() -> None:
    sys.path.insert(0, str(COMPLIANCE))
    try:
        from run import run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(COMPLIANCE))
    finished = run(["-q"])
    summary = finished.stdout.strip().splitlines()[-1]
    print(summary)
    assert finished.returncode == 0, finished.stdout[-5000:]
    assert not re.search(r"\d+ (failed|errors?)\b", summary), finished.stdout[-5000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 67, summary
