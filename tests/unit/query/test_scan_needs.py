"""What a query node asks ingest nodes for (``scan_plan``/``scan_needs``), and that the
answer over rows cut to it is the answer over every row."""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.engine.buffer import TableSnapshot
from flight_iox.engine.dedupe import deduplicate
from flight_iox.query.remote import RemoteTable
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.scan_plan import statement_needs

SCHEMA = pa.schema(
    [
        role_field("host", TAG_TYPE, ColumnRole.TAG),
        role_field("region", TAG_TYPE, ColumnRole.TAG),
        role_field("time", TIME_TYPE, ColumnRole.TIME),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
        role_field("w", pa.int64(), ColumnRole.FIELD),
    ]
)
KNOWN = {"db": {"cpu": SCHEMA, "mem": SCHEMA}, "other": {"cpu": SCHEMA}}
S = 1_000_000_000


def _needs(sql: str) -> dict[str, dict[str, ScanNeeds]] | None:
    found = statement_needs(sql, "db", KNOWN)
    return None if found is None else {db: dict(tables) for db, tables in found.items()}


def test_projection_time_range_and_tag_values_come_from_the_plan() -> None:
    found = _needs(
        "SELECT usage FROM cpu WHERE host IN ('a', 'b') AND region = 'eu' "
        "AND time >= '1970-01-01T00:00:10Z' AND time < '1970-01-01T00:00:20Z' AND w > 3"
    )
    assert found is not None
    needs = found["db"]["cpu"]
    assert needs.columns == {"usage", "host", "region", "time", "w"}
    assert (needs.first, needs.last) == (10 * S, 20 * S - 1)
    assert dict(needs.tags) == {"host": {"a", "b"}, "region": {"eu"}}
    assert needs.known == set(SCHEMA.names)


def test_or_of_one_tag_is_a_value_set_and_across_columns_is_not_pushed() -> None:
    found = _needs(
        "SELECT count(*) FROM cpu WHERE (host = 'a' OR host = 'c') AND time > to_timestamp_nanos(5)"
    )
    assert found is not None and dict(found["db"]["cpu"].tags) == {"host": {"a", "c"}}
    found = _needs("SELECT count(*) FROM cpu WHERE host = 'a' OR region = 'b'")
    assert found is not None
    assert found["db"]["cpu"].tags == () and found["db"]["cpu"].first is None


def test_a_table_scanned_twice_needs_the_union() -> None:
    found = _needs(
        "SELECT usage FROM cpu WHERE time > to_timestamp_nanos(5) AND host = 'a' "
        "UNION ALL SELECT w FROM cpu WHERE time < to_timestamp_nanos(3) AND host = 'b'"
    )
    assert found is not None
    needs = found["db"]["cpu"]
    assert (needs.first, needs.last) == (None, None)
    assert dict(needs.tags) == {"host": {"a", "b"}}
    assert {"usage", "w"} <= set(needs.columns or ())


def test_qualified_names_and_the_clock() -> None:
    found = _needs(
        "SELECT a.usage, b.w FROM cpu a JOIN other.iox.cpu b ON a.host = b.host "
        "WHERE a.time > now() - interval '1 hour' AND b.time < now()"
    )
    assert found is not None
    assert found["db"]["cpu"].first is not None and found["db"]["cpu"].last is None
    assert found["other"]["cpu"].last is None  # an upper bound from now() is dropped


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM unknown_here",  # a table only the ingest nodes know yet
        "SELECT nope FROM cpu",  # a column only the ingest nodes know yet
        "SHOW TABLES",
        "SELECT usage, (SELECT max(w) FROM mem) FROM cpu",  # a scan inside an expression
    ],
)
def test_no_pushdown_when_the_plan_cannot_say(sql: str) -> None:
    assert _needs(sql) is None


def test_needs_travel_as_json() -> None:
    found = _needs("SELECT usage FROM cpu WHERE host = 'a' AND time >= to_timestamp_nanos(7)")
    assert found is not None
    needs = found["db"]["cpu"]
    assert ScanNeeds.from_json(needs.as_json()) == needs


def _node_rows(seed: int) -> pa.Table:
    """One ingest node's buffer: overlapping keys with the other node, sparse fields."""
    n = 60
    hosts = [f"h{(i + seed) % 4}" for i in range(n)]
    regions = [None if i % 7 == 0 else f"r{i % 2}" for i in range(n)]
    times = [(i % 20) * S for i in range(n)]
    usage = [None if (i + seed) % 3 == 0 else float(i * 10 + seed) for i in range(n)]
    w = [None if (i + seed) % 5 == 0 else i + 100 * seed for i in range(n)]
    table = pa.table(
        [
            pa.array(hosts).dictionary_encode(),
            pa.array(regions).dictionary_encode(),
            pa.array(times, pa.timestamp("ns")),
            pa.array(usage, pa.float64()),
            pa.array(w, pa.int64()),
        ],
        schema=SCHEMA,
    )
    return deduplicate(table)  # a node's buffer snapshot is deduplicated


def _answer(rows: tuple[pa.Table, ...], sql: str) -> list[tuple[object, ...]]:
    merged = RemoteTable((), (), rows).merged(TableSnapshot((), SCHEMA.empty_table()), SCHEMA)
    context = SessionContext(SessionConfig().with_default_catalog_and_schema("db", "iox"))
    batches = merged.buffered.to_batches() or [pa.RecordBatch.from_pylist([], schema=SCHEMA)]
    context.register_record_batches("cpu", [batches])
    result = context.sql(sql).to_arrow_table().to_pylist()
    return sorted((tuple(sorted(r.items())) for r in result), key=repr)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT usage FROM cpu WHERE host IN ('h1', 'h2') AND time >= to_timestamp_nanos(3) "
        "AND time < to_timestamp_nanos(12000000000)",
        "SELECT host, time, w FROM cpu WHERE region = 'r1'",
        "SELECT count(*), count(usage), sum(w) FROM cpu WHERE host = 'h0' OR host = 'h3'",
        "SELECT * FROM cpu WHERE time BETWEEN to_timestamp_nanos(2000000000) "
        "AND to_timestamp_nanos(9000000000) AND usage > 50",
        "SELECT host, max(usage) FROM cpu "
        "WHERE time > to_timestamp_nanos(4000000000) GROUP BY host",
        "SELECT a.usage, b.w FROM cpu a JOIN cpu b ON a.host = b.host AND a.time = b.time "
        "WHERE a.region = 'r0' AND b.time < to_timestamp_nanos(5000000000)",
        "SELECT count(*) FROM cpu WHERE region IS NULL AND host = 'h2'",
    ],
)
def test_rows_cut_to_the_needs_answer_as_every_row_does(sql: str) -> None:
    nodes = (_node_rows(0), _node_rows(1))
    found = statement_needs(sql, "db", {"db": {"cpu": SCHEMA}})
    assert found is not None
    needs = found["db"]["cpu"]
    cut = tuple(needs.apply(rows) for rows in nodes)
    assert sum(t.nbytes for t in cut) < sum(t.nbytes for t in nodes)
    assert _answer(cut, sql) == _answer(nodes, sql)


def test_a_column_the_requester_does_not_know_always_travels() -> None:
    rows = _node_rows(0).append_column(
        role_field("new", pa.int64(), ColumnRole.FIELD), [[1] * _node_rows(0).num_rows]
    )
    needs = ScanNeeds(frozenset({"usage"}), None, None, (), frozenset(SCHEMA.names))
    assert needs.apply(rows).column_names == ["host", "region", "time", "usage", "new"]
