"""Over the IOx conformance data, pruning before planning changes no answer.

Every case runs twice, with ``query_file_pruning`` on and off, and each query must give
the same rows (or the same error) both times: sorted where the query has no ORDER BY, as
the golden files compare them. Two full runs take minutes, hence ``slow``.
"""

from __future__ import annotations

import pytest

from tests.conformance.iox_runner import ROOT, run_all


@pytest.mark.slow
def test_pruning_changes_no_answer() -> None:
    if not ROOT.is_dir():
        pytest.skip(f"conformance data not found at {ROOT}")
    on = run_all(settings={"query_file_pruning": True})
    off = run_all(settings={"query_file_pruning": False})
    assert len(on.outcomes) == len(off.outcomes) > 600
    different = [
        (a.case, a.query, a.result[:300], b.result[:300])
        for a, b in zip(on.outcomes, off.outcomes, strict=True)
        if a.result != b.result
    ]
    assert different == []
