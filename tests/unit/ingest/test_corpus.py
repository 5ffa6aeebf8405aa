"""Every decode case of the InfluxDB line-protocol corpus, through both parser paths."""

from __future__ import annotations

import pytest

from tests.unit.ingest.corpus_support import agrees, load_cases, points, run_case


@pytest.fixture(scope="module")
def cases() -> dict[str, dict]:
    return load_cases()


@pytest.mark.parametrize("fast_path", [True, False], ids=["routed", "exact-only"])
def test_corpus_agreement(cases: dict[str, dict], fast_path: bool) -> None:
    disagreements = [k for k, c in cases.items() if not agrees(c, run_case(c, fast_path=fast_path))]
    agreement = 1 - len(disagreements) / len(cases)
    print(f"corpus agreement ({'routed' if fast_path else 'exact-only'}): {agreement:.4%}")
    assert agreement >= 0.99, disagreements[:20]
    accepted = [k for k in disagreements if "result" in cases[k]["output"]]
    assert not [k for k in accepted if not run_case(cases[k], fast_path=fast_path).errors]


def test_paths_agree_on_every_case(cases: dict[str, dict]) -> None:
    for key, case in cases.items():
        routed, exact_only = run_case(case), run_case(case, fast_path=False)
        assert points(routed) == points(exact_only), key
        assert [(e.line_number, e.message) for e in routed.errors] == [
            (e.line_number, e.message) for e in exact_only.errors
        ], key
