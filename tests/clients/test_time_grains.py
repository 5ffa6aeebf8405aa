"""Every time grain the Superset engine spec offers, run on a real server, against Python's answer.

The grains are what Superset groups a time axis by; each template is applied to the ``time``
column of a table whose points fall on awkward days (leap day, the last second of a year,
Saturday night, Sunday midnight) and compared with the bucket computed here by calendar rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from adbc_driver_flight_iox import dbapi
from flight_iox.launcher import RunningServer
from sqlalchemy_flight_iox.time_grains import TIME_GRAINS

from .conftest import write_lp

DATABASE = "time_grains"
TIMES = [
    datetime(2023, 12, 31, 23, 59, 59, 999000),  # a Sunday, the year's last millisecond
    datetime(2024, 2, 29, 13, 47, 59, 500000),  # leap day, a Thursday
    datetime(2024, 3, 2, 23, 59, 59),  # a Saturday night
    datetime(2024, 3, 3, 0, 0, 0),  # Sunday midnight
    datetime(2024, 7, 1, 6, 7, 8),  # a Monday
]
EPOCH = datetime(1970, 1, 1)


def _floor(t: datetime, step: timedelta) -> datetime:
    return EPOCH + (t - EPOCH) // step * step


def _monday(t: datetime) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _sunday(t: datetime) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _quarter(t: datetime) -> datetime:
    return datetime(t.year, (t.month - 1) // 3 * 3 + 1, 1)


EXPECTED: dict[str | None, Callable[[datetime], datetime]] = {
    None: lambda t: t,
    "PT1S": lambda t: _floor(t, timedelta(seconds=1)),
    "PT5S": lambda t: _floor(t, timedelta(seconds=5)),
    "PT30S": lambda t: _floor(t, timedelta(seconds=30)),
    "PT1M": lambda t: _floor(t, timedelta(minutes=1)),
    "PT5M": lambda t: _floor(t, timedelta(minutes=5)),
    "PT10M": lambda t: _floor(t, timedelta(minutes=10)),
    "PT15M": lambda t: _floor(t, timedelta(minutes=15)),
    "PT30M": lambda t: _floor(t, timedelta(minutes=30)),
    "PT0.5H": lambda t: _floor(t, timedelta(minutes=30)),
    "PT1H": lambda t: _floor(t, timedelta(hours=1)),
    "PT6H": lambda t: _floor(t, timedelta(hours=6)),
    "P1D": lambda t: _floor(t, timedelta(days=1)),
    "P1W": _monday,
    "1969-12-29T00:00:00Z/P1W": _monday,
    "1969-12-28T00:00:00Z/P1W": _sunday,
    "P1W/1970-01-03T00:00:00Z": lambda t: _sunday(t) + timedelta(days=6),
    "P1W/1970-01-04T00:00:00Z": lambda t: _monday(t) + timedelta(days=6),
    "P1M": lambda t: datetime(t.year, t.month, 1),
    "P3M": _quarter,
    "P0.25Y": _quarter,
    "P1Y": lambda t: datetime(t.year, 1, 1),
}


@pytest.fixture(scope="module")
def grains_db(server: RunningServer) -> str:
    lines = [
        f"points,n={i} v={i}i {int((t - EPOCH) / timedelta(microseconds=1)) * 1000}"
        for i, t in enumerate(TIMES)
    ]
    write_lp(server, DATABASE, "\n".join(lines))
    return server.flight_uri


def test_every_grain_has_an_expected_answer() -> None:
    assert set(TIME_GRAINS) == set(EXPECTED)


@pytest.mark.parametrize("grain", list(EXPECTED), ids=str)
def test_grain_buckets_like_the_calendar(grains_db: str, grain: str | None) -> None:
    sql = f"SELECT {TIME_GRAINS[grain].format(col='time')} AS bucket FROM points ORDER BY time"
    with dbapi.connect(grains_db, database=DATABASE) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        buckets = [row[0] for row in cursor.fetchall()]
    assert buckets == [EXPECTED[grain](t) for t in TIMES]
