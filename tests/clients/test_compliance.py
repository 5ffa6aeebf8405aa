"""SQLAlchemy's dialect compliance suite against a real server (slow: about 100 s).

Run with ``pytest -m slow tests/clients/test_compliance.py``; the counts are in
docs/clients.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

COMPLIANCE = Path(__file__).resolve().parents[1] / "compliance"

# Failures the suite may show, each a server capability flight-iox lacks.
KNOWN_SERVER_GAPS = (
    "DDL not supported",  # CREATE TABLE inside a test body: no DDL over SQL
    "returned inconsistent schema",  # prepared schema nullability differs from the result's
    "Cannot infer common string type",  # an untyped NULL parameter in ||
)


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
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 50, finished.stdout[-5000:]
    sections = re.split(r"\n_{3,} .+? _{3,}\n", finished.stdout)[1:]
    unexplained = [s for s in sections if not any(gap in s for gap in KNOWN_SERVER_GAPS)]
    assert len(unexplained) <= 1, "\n\n".join(unexplained)[-5000:]
