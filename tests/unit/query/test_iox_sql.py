"""IOx's selector_* and date_bin_gapfill/locf/interpolate, rewritten for DataFusion."""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionContext

from flight_iox.errors import QueryError
from flight_iox.query.iox_sql import rewrite_iox_sql

MIN = 60_000_000_000


def run(sql: str) -> pa.Table:
    ctx = SessionContext()
    table = pa.table(
        {
            "time": pa.array([0, 2 * MIN, 3 * MIN, 9 * MIN], pa.timestamp("ns")),
            "host": pa.array(["a", "b", "a", "a"]).dictionary_encode(),
            "v": [1.0, None, 3.0, 0.5],
            "s": ["x", "y", "z", None],
        }
    )
    ctx.register_record_batches("m", [table.to_batches()])
    rewritten, finish = rewrite_iox_sql(sql)
    result = ctx.sql(rewritten).to_arrow_table()
    return finish(result) if finish else result


def test_untouched_sql_is_returned_as_is() -> None:
    sql = "SELECT 'selector_first(' AS x, \"locf(\" FROM m"
    assert rewrite_iox_sql(sql) == (sql, None)


@pytest.mark.parametrize(
    ("fn", "value", "minute"),
    [("first", 1.0, 0), ("last", 0.5, 9), ("min", 0.5, 9), ("max", 3.0, 3)],
)
def test_selectors_pick_the_row(fn: str, value: float, minute: int) -> None:
    row = run(f"SELECT selector_{fn}(v, time, s) AS f FROM m")["f"].to_pylist()[0]
    assert row["value"] == value
    assert row["time"].timestamp() == minute * 60
    assert list(row) == ["value", "time", "other_1"]


def test_selector_fields_can_be_selected() -> None:
    out = run("SELECT selector_max(s, time)['value'] AS v FROM m")
    assert out["v"].to_pylist() == ["z"]


def test_gapfill_adds_buckets_per_group_and_fills() -> None:
    out = run(
        "SELECT host, date_bin_gapfill(interval '2 minutes', time) AS t, locf(max(v)) AS l, "
        "interpolate(max(v)) AS i, count(v) AS c FROM m "
        "WHERE time >= timestamp '1970-01-01T00:00:00Z' "
        "AND time < timestamp '1970-01-01T00:10:00Z' "
        "GROUP BY host, t"
    )
    assert out["host"].cast(pa.string()).to_pylist() == ["a"] * 5 + ["b"] * 5
    assert out["l"].to_pylist()[:5] == [1.0, 3.0, 3.0, 3.0, 0.5]
    assert out["i"].to_pylist()[:5] == pytest.approx([1.0, 3.0, 3 - 2.5 / 3, 3 - 5 / 3, 0.5])
    assert out["c"].to_pylist()[5:] == [None, 0, None, None, None]
    assert out["l"].to_pylist()[5:] == [None, None, None, None, None]


@pytest.mark.parametrize(
    "where",
    ["", "WHERE time >= timestamp '1970-01-01T00:00:00Z'", "WHERE time < '1970-01-01T00:10:00Z'"],
)
def test_gapfill_needs_both_time_bounds(where: str) -> None:
    with pytest.raises(QueryError, match="time bound"):
        rewrite_iox_sql(f"SELECT date_bin_gapfill('1 minute', time) AS t, count(v) FROM m {where}")
