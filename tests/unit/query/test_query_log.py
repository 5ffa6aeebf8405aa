"""The query log: bounded history, who may cancel, what each database's view holds, metrics."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.errors import NotFoundError, QueryCancelledError
from flight_iox.metrics import ServerMetrics
from flight_iox.query.engine import QueryEngine
from flight_iox.query.query_log import QUERIES_SCHEMA, QueryLog
from flight_iox.query.system_tables import SystemTable

ALICE = Principal("alice", admin=False)
BOB = Principal("bob", admin=False)


def test_finished_queries_are_bounded_and_running_ones_always_listed() -> None:
    log = QueryLog(size=3)
    running = log.begin("http_sql", "SELECT 0", "db", ALICE, threading.Event())
    for n in range(1, 6):
        log.end(log.begin("http_sql", f"SELECT {n}", "db", ALICE, threading.Event()))
    table = log.table()
    assert table.schema == QUERIES_SCHEMA
    assert table.column("query_text").to_pylist() == [
        "SELECT 3",
        "SELECT 4",
        "SELECT 5",
        "SELECT 0",
    ]
    assert table.column("running").to_pylist() == [False, False, False, True]
    assert table.column("success").to_pylist() == [True, True, True, None]
    log.end(running)
    assert log.table().num_rows == 3


def test_a_database_view_holds_only_that_databases_queries() -> None:
    log = QueryLog()
    for database in ("a", "b", None):
        log.end(log.begin("flightsql", "SELECT 1", database, ANONYMOUS, threading.Event()))
    assert log.table("a").column("database").to_pylist() == ["a"]
    assert log.table().column("database").to_pylist() == ["a", "b", None]


def test_cancel_sets_the_stop_event_for_an_admin_or_the_same_token_only() -> None:
    log = QueryLog()
    stop = threading.Event()
    record = log.begin("http_sql", "SELECT 1", "db", ALICE, stop)
    with pytest.raises(NotFoundError, match=record.id):
        log.cancel(record.id, BOB)  # another token's query is "not found"
    assert not stop.is_set()
    assert log.cancel(record.id, ALICE) is record and stop.is_set()
    log.end(record, QueryCancelledError("query cancelled"))
    [row] = log.table().to_pylist()
    assert row["cancelled"] and row["success"] is False and not row["running"]
    with pytest.raises(NotFoundError):
        log.cancel(record.id, ANONYMOUS)  # it ended


def test_watch_counts_rows_and_ends_the_query_with_its_stream() -> None:
    metrics = ServerMetrics()
    log = QueryLog(metrics=metrics)
    record = log.begin("influxql", "SELECT * FROM m", "db", ANONYMOUS, threading.Event())
    data = pa.table({"x": range(10)})
    version = log.version
    batches = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=4))
    assert log.watch(record, batches).read_all().num_rows == 10
    assert log.version > version
    [row] = log.table().to_pylist()
    assert row["rows"] == 10 and row["success"] and not row["running"]
    text = metrics.render().decode()
    assert 'flight_iox_query_seconds_count{protocol="influxql"} 1.0' in text
    assert 'flight_iox_queries_active{protocol="influxql"} 0.0' in text


def test_a_stream_dropped_unread_ends_cancelled() -> None:
    log = QueryLog()
    record = log.begin("flightsql", "SELECT 1", "db", ANONYMOUS, threading.Event())
    data = pa.table({"x": range(10)})
    reader = log.watch(record, pa.RecordBatchReader.from_batches(data.schema, data.to_batches(4)))
    reader.read_next_batch()
    del reader
    [row] = log.table().to_pylist()
    assert row["cancelled"] and not row["running"] and row["rows"] == 4


def test_only_statements_reading_system_tables_rebuild_the_log(cpu_app: App) -> None:
    log = QueryLog()
    builds: list[str | None] = []

    def build(database: str | None = None) -> pa.Table:
        builds.append(database)
        return log.table(database)

    queries = SystemTable(build, scoped=build, version=lambda: log.version)
    query = QueryEngine(cpu_app.catalog, cpu_app.buffers, system_tables={"queries": queries})
    query.execute("db", "SELECT count(*) FROM system.tables").read_all()
    builds.clear()
    for n in range(3):  # the log moves with every query; user-table statements ignore it
        log.end(log.begin("http_sql", f"SELECT {n}", "db", ANONYMOUS, threading.Event()))
        query.execute("db", f"SELECT v + {n} FROM cpu").read_all()
        query.execute("db", "SELECT v, now() FROM cpu").read_all()  # planned anew
    assert builds == []
    texts = query.execute("db", "SELECT query_text FROM system.queries").read_all()
    assert texts.column(0).to_pylist() == ["SELECT 0", "SELECT 1", "SELECT 2"]
    assert builds == [None, "db"]  # the admin view and the database's view, once
