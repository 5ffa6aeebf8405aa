"""Every decode case of the InfluxDB line-protocol corpus, through both parser paths."""

from __future__ import annotations

import pytest

from flight_iox.ingest.parse import ParseResult
from tests.unit.ingest.corpus_support import agrees, load_cases, points, run_case


@pytest.fixture(scope="module")
def cases() -> dict[str, dict]:
    return load_cases()


@pytest.fixture(scope="module")
def parsed(cases: dict[str, dict]) -> dict[bool, dict[str, ParseResult]]:
    """Each case parsed once per path (routed: ``True``; exact only: ``False``), for all tests."""
    return {
        fast_path: {key: run_case(case, fast_path=fast_path) for key, case in cases.items()}
        for fast_path in (True, False)
    }


@pytest.mark.parametrize("fast_path", [True, False], ids=["routed", "exact-only"])
def test_corpus_agreement(
    cases: dict[str, dict], parsed: dict[bool, dict[str, ParseResult]], fast_path: bool
) -> None:
    results = parsed[fast_path]
    disagreements = [k for k, c in cases.items() if not agrees(c, results[k])]
    agreement = 1 - len(disagreements) / len(cases)
    print(f"corpus agreement ({'routed' if fast_path else 'exact-only'}): {agreement:.4%}")
    assert agreement >= 0.99, disagreements[:20]
    accepted = [k for k in disagreements if "result" in cases[k]["output"]]
    assert not [k for k in accepted if not results[k].errors]


def test_paths_agree_on_every_case(
    cases: dict[str, dict], parsed: dict[bool, dict[str, ParseResult]]
) -> None:
    for key in cases:
        routed, exact_only = parsed[True][key], parsed[False][key]
        assert points(routed) == points(exact_only), key
        assert [(e.line_number, e.message) for e in routed.errors] == [
            (e.line_number, e.message) for e in exact_only.errors
        ], key
