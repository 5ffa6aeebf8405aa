"""InfluxQL functions run in-process on an App: top/bottom and friends."""

from __future__ import annotations

import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS

S = 1_000_000_000
DATA = "\n".join(
    [
        "cpu,host=a,region=west v=1,w=10 0",
        "cpu,host=a,region=west v=5,w=11 10000000000",
        "cpu,host=a,region=west v=3,w=12 20000000000",
        "cpu,host=b,region=east v=4,w=13 0",
        "cpu,host=b,region=east v=2,w=14 10000000000",
        "cpu,host=b,region=east v=6,w=15 30000000000",
    ]
)


def rows(app: App, q: str) -> list[tuple[dict, list[str], list[list]]]:
    (result,) = app.influxql.run(ANONYMOUS, "db", q, now=100 * S)
    if result.error:
        raise AssertionError(result.error)
    out = []
    for s in result.series:
        data = s.data.to_pylist()
        values = [[row[k] for k in row] for row in data]
        for v in values:
            v[0] = int(v[0].timestamp()) if hasattr(v[0], "timestamp") else v[0]
        out.append((s.tags, s.columns, values))
    return out


def error(app: App, q: str) -> str:
    (result,) = app.influxql.run(ANONYMOUS, "db", q, now=100 * S)
    assert result.error
    return result.error


def test_top_keeps_the_largest_points_in_time_order(app: App) -> None:
    ((_, columns, values),) = rows(app, "SELECT top(v, 3) FROM cpu")
    assert columns == ["time", "top"]
    assert values == [[0, 4.0], [10, 5.0], [30, 6.0]]


def test_bottom_with_extra_column_and_group_by_tag(app: App) -> None:
    out = rows(app, "SELECT bottom(v, 1), w FROM cpu GROUP BY host")
    assert [(t, c, v) for t, c, v in out] == [
        ({"host": "a"}, ["time", "bottom", "w"], [[0, 1.0, 10.0]]),
        ({"host": "b"}, ["time", "bottom", "w"], [[10, 2.0, 14.0]]),
    ]


def test_top_with_tag_argument_picks_one_point_per_tag_value(app: App) -> None:
    ((_, columns, values),) = rows(app, "SELECT top(v, host, 2), host FROM cpu")
    assert columns == ["time", "top", "host", "host_1"]
    assert values == [[10, 5.0, "a", "a"], [30, 6.0, "b", "b"]]


def test_top_per_time_bucket(app: App) -> None:
    ((_, _, values),) = rows(
        app, "SELECT top(v, 1) FROM cpu WHERE time >= 0 AND time < 40s GROUP BY time(20s)"
    )
    assert values == [[10, 5.0], [30, 6.0]]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("SELECT top(v) FROM cpu", "invalid number of arguments"),
        ("SELECT top(v, 0) FROM cpu", "must be at least 1"),
        ("SELECT top(v, 1), mean(w) FROM cpu", "cannot be combined"),
        ("SELECT top(v, 1.5) FROM cpu", "expected integer"),
    ],
)
def test_top_errors(app: App, q: str, message: str) -> None:
    assert message in error(app, q)


def test_time_under_or_applies_to_the_whole_condition(app: App) -> None:
    out = rows(app, "SELECT v FROM cpu WHERE host = 'a' OR host = 'b' AND time >= 20s")
    assert [v for _, _, values in out for v in values] == [[20, 3.0], [30, 6.0]]
    assert rows(app, "SELECT v FROM cpu WHERE time = 0 OR time = 10s") == []


def test_aggregate_of_a_missing_field_has_no_series(app: App) -> None:
    assert rows(app, "SELECT mean(nope) FROM cpu GROUP BY host") == []


def test_bitwise_operators_truncate_floats(app: App) -> None:
    ((_, _, values),) = rows(app, "SELECT v FROM cpu WHERE v & 1 = 1 AND host = 'a'")
    assert values == [[0, 1.0], [10, 5.0], [20, 3.0]]
