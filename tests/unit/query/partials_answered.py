"""Watching which statements the partial aggregates answer, for the tests that compare them
with the plain plan."""

from __future__ import annotations

from typing import Any

import pytest

from flight_iox.app import App
from flight_iox.query.partial_aggs import PartialAggregates


def answered_from_partials(monkeypatch: pytest.MonkeyPatch, app: App) -> list[bool]:
    """Per statement ``app`` runs from now on that its partial aggregates were asked to
    answer: answered from partials (True) or left to the plain plan (False). A statement
    they declined when it was planned is not asked again (none is recorded)."""
    answered: list[bool] = []
    answer = PartialAggregates.answer
    watched_partials = app.query.partial_aggregates

    def watched(self: PartialAggregates, *args: Any) -> Any:
        rows = answer(self, *args)
        if self is watched_partials:
            answered.append(rows is not None)
        return rows

    monkeypatch.setattr(PartialAggregates, "answer", watched)
    return answered
