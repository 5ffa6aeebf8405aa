"""Watching which statements the partial aggregates answer, for the tests that compare them
with the plain plan."""

from __future__ import annotations

from typing import Any

import pytest

from flight_iox.query.partial_aggs import PartialAggregates


def answered_from_partials(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per statement from now on, in every app: answered from partials (True) or left to the
    plain plan (False)."""
    answered: list[bool] = []
    answer = PartialAggregates.answer

    def watched(self: PartialAggregates, *args: Any) -> Any:
        rows = answer(self, *args)
        answered.append(rows is not None)
        return rows

    monkeypatch.setattr(PartialAggregates, "answer", watched)
    return answered
