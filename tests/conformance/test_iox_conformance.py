"""The IOx golden query tests as a floor: pass counts may only rise (see docs/conformance.md)."""

from __future__ import annotations

import pytest

from tests.conformance.iox_runner import ROOT, Report, run_all

# Floors: raise them when more cases pass; never lower them.
FLOORS = {
    ("influxql", "result"): 389,
    ("influxql", "error"): 25,
    ("sql", "result"): 142,
    ("sql", "error"): 4,
}


@pytest.fixture(scope="module")
def report() -> Report:
    if not ROOT.is_dir():
        pytest.skip(f"conformance data not found at {ROOT}")
    return run_all()


@pytest.mark.parametrize(("lang", "kind"), sorted(FLOORS))
def test_pass_count_floor(report: Report, lang: str, kind: str) -> None:
    passed = report.count(lang, kind, "pass", "pass_unordered")
    assert passed >= FLOORS[(lang, kind)], f"{lang} {kind}: {passed} < {FLOORS[(lang, kind)]}"
