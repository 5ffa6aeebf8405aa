"""Time grains as DataFusion SQL: what BI tools group a time axis by.

Keys are ISO 8601 durations, as Superset names its grains (``PT1M``, ``P1W``; a week that
starts or ends on a given day carries that day, ``1969-12-28T00:00:00Z/P1W``). Values are
SQL templates with ``{col}`` for the time column. Calendar units use ``date_trunc``; the
others use ``date_bin``, whose bins start at the Unix epoch, so a 5-minute bin starts at
:00, :05 ... as it does on other engines. DataFusion's week starts on Monday; the other
week grains shift it by whole days.

This module needs nothing of Superset, so the default test suite checks every template
against a real server (``tests/clients/test_time_grains.py``); ``db_engine_spec.py`` hands
the table to Superset.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _bin(interval: str) -> str:
    return f"date_bin(INTERVAL '{interval}', {{col}})"


def _trunc(unit: str) -> str:
    return f"date_trunc('{unit}', {{col}})"


TIME_GRAINS: Mapping[str | None, str] = MappingProxyType(
    {
        None: "{col}",
        "PT1S": _trunc("second"),
        "PT5S": _bin("5 seconds"),
        "PT30S": _bin("30 seconds"),
        "PT1M": _trunc("minute"),
        "PT5M": _bin("5 minutes"),
        "PT10M": _bin("10 minutes"),
        "PT15M": _bin("15 minutes"),
        "PT30M": _bin("30 minutes"),
        "PT0.5H": _bin("30 minutes"),
        "PT1H": _trunc("hour"),
        "PT6H": _bin("6 hours"),
        "P1D": _trunc("day"),
        "P1W": _trunc("week"),
        "1969-12-29T00:00:00Z/P1W": _trunc("week"),
        "1969-12-28T00:00:00Z/P1W": (
            "date_trunc('week', {col} + INTERVAL '1 day') - INTERVAL '1 day'"
        ),
        "P1W/1970-01-03T00:00:00Z": (
            "date_trunc('week', {col} + INTERVAL '1 day') + INTERVAL '5 days'"
        ),
        "P1W/1970-01-04T00:00:00Z": "date_trunc('week', {col}) + INTERVAL '6 days'",
        "P1M": _trunc("month"),
        "P3M": _trunc("quarter"),
        "P0.25Y": _trunc("quarter"),
        "P1Y": _trunc("year"),
    }
)
"""Superset's grain name (ISO 8601 duration) to a DataFusion SQL template over ``{col}``."""

EPOCH_SECONDS = "to_timestamp_seconds({col})"
"""A column of Unix seconds as a timestamp."""

EPOCH_MILLISECONDS = "to_timestamp_millis({col})"
"""A column of Unix milliseconds as a timestamp."""
