"""The cheaper plans: select lists, tie order in Arrow, LIMIT 1 per series, implied filters."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import RowCompiler, TableInfo
from flight_iox.influxql.formats import arrow_table
from flight_iox.influxql.parser import parse
from flight_iox.influxql.projection import SelectList, plain_column
from flight_iox.influxql.result import Series, StatementResult
from flight_iox.influxql.select import compared_columns
from flight_iox.influxql.series import decoded, group_ids, order_ties

S = 1_000_000_000
# Series share times (ties), one host lacks the rack tag, one row has only a null-free field.
DATA = "\n".join(
    [
        "cpu,host=b,rack=r2 v=1,w=10 0",
        "cpu,host=a,rack=r1 v=2,w=20 0",
        "cpu,host=a v=3 0",
        "cpu,host=b,rack=r2 v=4,w=40 10000000000",
        "cpu,host=a,rack=r1 v=5,w=50 10000000000",
        "cpu,host=a v=6 20000000000",
        "cpu,host=b,rack=r2 w=70 20000000000",
    ]
)


def values(app: App, q: str) -> list[tuple[dict[str, str], list[list[object]]]]:
    (result,) = app.influxql.run(ANONYMOUS, "db", q, now=100 * S)
    assert result.error is None, result.error
    out = []
    for s in result.series:
        rows = [list(r.values()) for r in s.data.to_pylist()]
        out.append(
            (s.tags, [[r[0].value // S if hasattr(r[0], "value") else r[0], *r[1:]] for r in rows])
        )
    return out


def sql_of(app: App, q: str) -> list[str]:
    """The SQL texts a statement runs."""
    ctx = app.influxql.context(ANONYMOUS, "db", now=100 * S)
    seen: list[str] = []
    original = ctx.sql

    def spy(database: str, sql: str) -> pa.Table:
        seen.append(sql)
        return original(database, sql)

    ctx.sql = spy  # type: ignore[method-assign]
    from flight_iox.influxql.executor import execute

    execute(q, ctx)
    return seen


def test_plain_columns_are_unaliased_and_a_full_list_is_a_star() -> None:
    select = SelectList(frozenset({"time", "a", "b"}))
    select.add("__time", '"time"')
    select.add("__c0", '"a"')
    select.add("__c1", '"b"')
    assert select.sql() == "*"
    select.add("__c2", '("a" + 1)')
    select.add("__c3", '"a"')
    assert select.sql() == '"time", "a", "b", ("a" + 1) AS "__c2"'
    assert select.ref("__c3") == '"a"' and select.ref("__c2") == '"__c2"'
    result = pa.table({"time": [1], "a": [2], "b": [3], "__c2": [4]})
    named = select.named(result)
    assert named.column_names == ["__time", "__c0", "__c1", "__c2", "__c3"]
    assert named.to_pylist() == [{"__time": 1, "__c0": 2, "__c1": 3, "__c2": 4, "__c3": 2}]
    assert plain_column('"we""ird"') == 'we"ird' and plain_column('"a" + "b"') is None


def test_ties_are_ordered_by_the_keys_nulls_first_within_each_series() -> None:
    table = pa.table(
        {
            "g": ["x", "x", "x", "y", "y"],
            "t": [1, 1, 2, 1, 1],
            "k": pa.array(["b", None, "a", "d", "c"]).dictionary_encode(),
        }
    )
    ids = group_ids(table, ["g"])
    times = np.array(table.column("t"))
    ordered = order_ties(table, ids, times, ["k"])
    assert ordered.column("k").to_pylist() == [None, "b", "a", "c", "d"]
    untied = table.slice(2, 2)
    assert order_ties(untied, ids[2:4], times[2:4], ["k"]) is untied


def test_decoding_a_slice_looks_up_only_its_entries() -> None:
    column = pa.array([f"v{i}" for i in range(1000)]).dictionary_encode().slice(998, 2)
    assert decoded(column).to_pylist() == ["v998", "v999"]
    assert decoded(pa.chunked_array([column])).type == pa.string()


def test_where_comparisons_imply_non_null_fields() -> None:
    (stmt,) = parse(
        "SELECT * FROM m WHERE a > 1 AND (b = 2 OR c = 3) AND d !~ /x/ AND e::tag = 'x'"
    )
    assert isinstance(stmt, ast.SelectStatement)
    assert compared_columns(stmt.condition) == {"a"}


def test_tag_equality_is_plain_only_where_null_reads_as_false() -> None:
    compiler = RowCompiler(TableInfo("m", frozenset({"host"}), {"v": "float"}), 0)
    (stmt,) = parse("SELECT v FROM m WHERE host = 'a' AND host = '' AND host != 'a'")
    assert isinstance(stmt, ast.SelectStatement) and stmt.condition is not None
    sql = compiler.condition(stmt.condition).sql
    assert "(\"host\" = 'a')" in sql
    assert "(coalesce(\"host\", '') = '')" in sql
    assert "(coalesce(\"host\", '') != 'a')" in sql
    value = compiler.condition(stmt.condition, filtering=False).sql
    assert "(coalesce(\"host\", '') = 'a')" in value


def test_raw_select_sorts_ties_in_series_key_order(app: App) -> None:
    assert values(app, "SELECT v, host, rack FROM cpu WHERE time < 5s") == [
        ({}, [[0, 3.0, "a", None], [0, 2.0, "a", "r1"], [0, 1.0, "b", "r2"]])
    ]
    sql = sql_of(app, "SELECT v, host, rack FROM cpu WHERE time < 5s")
    assert sql[0].endswith('ORDER BY "time" ASC')


def test_limit_one_per_series_keeps_the_last_point_of_each(app: App) -> None:
    q = "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1"
    assert values(app, q) == [
        ({"host": "b"}, [[20, "r2", None, 70.0]]),
        ({"host": "a"}, [[20, None, 6.0, None]]),
    ]
    assert values(app, "SELECT v FROM cpu GROUP BY host LIMIT 1") == [
        ({"host": "a"}, [[0, 3.0]]),
        ({"host": "b"}, [[0, 1.0]]),
    ]
    assert " JOIN (SELECT " in sql_of(app, q)[0]
    assert "RANK()" in sql_of(app, "SELECT v FROM cpu GROUP BY host LIMIT 2")[0]


def test_null_field_rows_are_dropped_unless_where_already_does(app: App) -> None:
    assert values(app, "SELECT w FROM cpu WHERE host = 'a'") == [({}, [[0, 20.0], [10, 50.0]])]
    (sql,) = sql_of(app, "SELECT w FROM cpu WHERE w > 0")
    assert "IS NOT NULL" not in sql
    (sql,) = sql_of(app, "SELECT w FROM cpu WHERE v > 0")
    assert '"w" IS NOT NULL' in sql


def test_grouped_aggregates_count_no_rows_unless_ungrouped(app: App) -> None:
    (sql,) = sql_of(app, "SELECT max(v) FROM cpu GROUP BY host")
    assert "count(*)" not in sql
    (sql,) = sql_of(app, "SELECT max(v) FROM cpu")
    assert "count(*)" in sql
    assert values(app, "SELECT max(v) FROM cpu WHERE host = 'zzz'") == []


def test_reversed_series_stack_into_one_flat_table() -> None:
    block = pa.table({"c0": [1, 2, 3], "c1": ["x", "y", "z"]})
    series = [
        Series("m", {"k": "2"}, ["time", "v"], None, block, 2, 1),
        Series("m", {"k": "1"}, ["time", "v"], None, block, 0, 2),
    ]
    flat = arrow_table(StatementResult(0, series))
    assert flat.column("v").to_pylist() == ["z", "x", "y"]
    assert flat.column("k").to_pylist() == ["2", "1", "1"]
    assert flat.column(0).num_chunks == 1
