"""Per-file partial aggregates stay the plain plan's answer and within the server's bounds.

As in ``test_partial_aggs.py``, two servers hold the same writes, one with the cache and one
without, and every answer is compared (floats by their bits' meaning: NaN, the sign of zero,
infinities). Then: one query slot for the whole statement; the byte bound counting what
each entry costs; only the files the statement can need aggregated; warming on the
persister's thread that never waits for a slot; run-time errors as the plain plan's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer
from flight_iox.auth.tokens import FileTokenStore, TokenRecord
from flight_iox.config import Settings
from flight_iox.engine.arrow_writer import EngineWriter
from flight_iox.query.execution import Query
from flight_iox.query.partial_aggs import MIN_ROWS, PartialAggregates
from flight_iox.query.partial_store import ENTRY_BYTES
from tests.unit.query.partials_answered import answered_from_partials

HOUR = 3_600_000_000_000
NAN, INF = float("nan"), float("inf")


def _build(folder: Path, size: int, **settings: Any) -> App:
    store = FileTokenStore(folder / "tokens.json")
    store.add(TokenRecord("id", "_admin", "h", True))
    config = Settings(
        data_dir=folder / "data", wal_fsync=False, aggregate_cache_size=size, **settings
    )
    app = build_app(config, Authorizer(AuthMode.OFF, store))
    app.query.partial_aggregates.min_rows = 0  # small tables run as planned otherwise
    return app


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[App, App]]:
    cached = _build(tmp_path / "cached", 64 << 20)
    plain = _build(tmp_path / "plain", 0)
    yield cached, plain
    cached.close()
    plain.close()


def _write(apps: tuple[App, ...], database: str, body: str, persist: bool = True) -> None:
    for app in apps:
        app.engine.write_line_protocol(database, body.encode(), principal=ANONYMOUS)
        if persist:
            app.persister.persist(database)


def _run(app: App, database: str, sql: str) -> tuple[pa.Schema, list[tuple[Any, ...]]]:
    table = app.sql.scoped(ANONYMOUS).execute(database, sql).read_all()
    rows = [tuple(_exact(v) for v in row.values()) for row in table.to_pylist()]
    return table.schema, rows if "ORDER BY" in sql else sorted(rows, key=repr)


def _exact(value: object) -> object:
    """A float as what tells it apart: NaN, and the sign of a zero."""
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else (value, math.copysign(1.0, value))
    return value


def _outcome(app: App, database: str, sql: str) -> object:
    try:
        return _run(app, database, sql)
    except Exception as error:  # compared: the same type and message on both servers
        return type(error).__name__, str(error)


def _same(apps: tuple[App, App], database: str, sql: str) -> None:
    cached, plain = apps
    want = _outcome(plain, database, sql)
    assert _outcome(cached, database, sql) == want, sql
    assert _outcome(cached, database, sql) == want, sql  # from kept partials
    assert cached.query.slots_used == 0


def _partials(app: App) -> PartialAggregates:
    return app.query.partial_aggregates


# Answered from the partials, exactly as the plain plan answers them.
FLOAT_QUERIES = [
    "SELECT max(f), min(f), count(f), sum(g), max(g), min(g) FROM m",
    "SELECT host, sum(f), avg(f), count(f), count(*) FROM m GROUP BY host",
    "SELECT host, sum(f) AS x FROM m GROUP BY host ORDER BY x DESC, host",
    "SELECT host, sum(f) AS x FROM m GROUP BY host ORDER BY x ASC NULLS FIRST, host LIMIT 4",
    "SELECT host, sum(f) AS x FROM m GROUP BY host ORDER BY x DESC NULLS LAST, host OFFSET 1",
    "SELECT host, max(g) AS x, min(g) FROM m GROUP BY host ORDER BY x DESC, host",
]
# Left to the plain plan: DataFusion 55's grouped float min and max depend on the order
# rows arrive in when a NaN or a -0.0 is among them (apache/datafusion#24432), and it
# groups -0.0 with 0.0 under the sign of the first row it read.
ORDER_DEPENDENT = [
    "SELECT host, max(f), min(f) FROM m GROUP BY host",
    "SELECT host, max(f) AS x FROM m GROUP BY host ORDER BY x DESC, host",
    "SELECT f, count(*) FROM m GROUP BY f ORDER BY f DESC",
]


def test_nan_signed_zeros_and_infinities(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DataFusion sorts floats in a total order (NaN above inf); pyarrow put NaN last."""
    sources = [  # f: NaN and signed zeros; g: infinities, no NaN, no -0.0
        (["a", "b", "c", "d"], [NAN, 1.0, -0.0, None], [1.0, INF, 0.0, None]),
        (["a", "b", "c", "e"], [5.0, NAN, 0.0, -INF], [-INF, 2.0, 0.0, -INF]),
        (["a", "b", "c", "z"], [INF, -INF, -0.0, NAN], [INF, -INF, 3.0, None]),
        (["a", "c", "e", "z"], [-0.0, 0.0, NAN, NAN], [4.0, -INF, -INF, 5.0]),  # buffered
    ]
    for n, (hosts, f, g) in enumerate(sources):
        time = pa.array([n * HOUR + i for i in range(len(hosts))], pa.timestamp("ns"))
        table = pa.table({"host": hosts, "f": f, "g": g, "time": time})
        for app in apps:
            writer = EngineWriter(app.engine)
            writer.write_arrow("floats", "m", table, ["host"], principal=ANONYMOUS)
            if n < 3:
                app.persister.persist("floats")
    answered = answered_from_partials(monkeypatch, apps[0])
    for sql in FLOAT_QUERIES:
        _same(apps, "floats", sql)
        assert answered[-2:] == [True, True], sql
    for sql in ORDER_DEPENDENT:
        _run(apps[0], "floats", sql)
        assert answered[-1] is False, sql


def test_one_query_slot_for_the_whole_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every per-file aggregate and the final one run in the statement's one open query."""
    app = _build(tmp_path, 64 << 20, max_concurrent_queries=1)
    seen: list[tuple[int, bool]] = []
    read_all = Query.read_all

    def watched(self: Query, *args: Any, **options: Any) -> pa.Table:
        seen.append((app.query.slots_used, self._open))
        return read_all(self, *args, **options)

    try:
        for hour in range(1, 4):
            _write((app,), "slots", f"cpu,host=h{hour} i={hour}i {hour * HOUR}")
        _write((app,), "slots", "cpu,host=b i=9i 5", persist=False)
        monkeypatch.setattr(Query, "read_all", watched)
        sql = "SELECT host, count(*), sum(i) FROM cpu GROUP BY host"
        rows = _run(app, "slots", sql)[1]
        assert rows == [("b", 1, 9), ("h1", 1, 1), ("h2", 1, 2), ("h3", 1, 3)]
        assert len(seen) == 4  # three files alone; the buffer with the final (partial_runs)
        assert set(seen) == {(1, True)}
        assert app.query.slots_used == 0
    finally:
        app.close()


def test_empty_partials_count_against_the_bound(tmp_path: Path) -> None:
    """A partial with no rows has no buffer, but its objects and key still cost memory."""
    capacity = 4 * ENTRY_BYTES
    app = _build(tmp_path, capacity)
    try:
        for hour in range(10):
            _write((app,), "empty", f"cpu,host=h{hour} f={hour}.5 {hour * HOUR}")
        sql = "SELECT host, count(*), max(f) FROM cpu WHERE f > 1e9 GROUP BY host"
        assert _run(app, "empty", sql)[1] == []
        partials = _partials(app)
        assert partials.misses == 10
        assert 0 < partials.used_bytes <= capacity
        assert 0 < partials.entries < 4  # the bound, not the files, decides what stays
    finally:
        app.close()


def test_partials_past_the_query_pool_leave_the_statement_to_it(tmp_path: Path) -> None:
    """Partials live outside DataFusion's pool: a statement whose partials would hold more
    than --query-memory-limit runs as planned, in the pool, and fails (or not) as it does."""
    limit = 2 << 20
    apps = (_build(tmp_path / "c", 256 << 20, query_memory_limit=limit),
            _build(tmp_path / "p", 0, query_memory_limit=limit))  # fmt: skip
    try:
        for k in range(12):
            body = "\n".join(
                f"cpu,host=a i={k * 100_000 + n}i {k * HOUR + n}" for n in range(20_000)
            )
            _write(apps, "big", body)
        sql = "SELECT i, count(*) AS n FROM cpu GROUP BY i"
        for app in (*apps, apps[0]):  # the plain plan's pool refuses it, every time
            outcome = _outcome(app, "big", sql)
            assert isinstance(outcome, tuple) and outcome[0] == "QueryMemoryError", outcome
        assert apps[0].query.slots_used == 0
    finally:
        for app in apps:
            app.close()


def test_only_the_files_the_statement_can_need(apps: tuple[App, App]) -> None:
    """Files the statement's time range or tag values rule out are never aggregated."""
    for hour in range(1, 9):  # (a file whose times all round to 0 µs is never pruned)
        lines = [f"cpu,host=h{hour % 2} i={hour * 10 + n}i {hour * HOUR + n}" for n in range(5)]
        _write(apps, "pruned", "\n".join(lines))
    partials = _partials(apps[0])
    for start in (6, 7, 8):  # a literal that moves at every run
        misses = partials.misses
        since = f"'1970-01-01T{start:02d}:00:00Z'"
        sql = f"SELECT host, count(*), sum(i) FROM cpu WHERE time >= {since} GROUP BY host"
        _same(apps, "pruned", sql)
        assert partials.misses - misses == 9 - start  # the files from that hour on
    misses = partials.misses
    _same(apps, "pruned", "SELECT host, max(i) FROM cpu WHERE host = 'h1' GROUP BY host")
    assert partials.misses - misses == 4  # the files holding h1


def test_run_time_errors_are_the_plain_plans(apps: tuple[App, App]) -> None:
    """A statement DataFusion fails while running fails with the plain plan's error, and a
    failure in the partials alone leaves the statement to the plain plan."""
    _write(apps, "errors", 'cpu,host=a i=3i,s="x" 1\ncpu,host=b i=5i,s="7" 2')
    _write(apps, "errors", 'cpu,host=a i=4i,s="8" 3600000000000')
    for sql in [
        "SELECT host, count(*) FROM cpu WHERE 10 / (i - 3) > 0 GROUP BY host",
        "SELECT host, sum(i) FROM cpu WHERE CAST(s AS BIGINT) > 0 GROUP BY host",
        "SELECT host, count(*) FROM cpu WHERE host = 'b' AND CAST(s AS BIGINT) > 0 GROUP BY host",
        "SELECT date_bin(interval '0 minutes', time) AS w, count(*) FROM cpu GROUP BY 1",
    ]:
        _same(apps, "errors", sql)


def test_warming_never_waits_for_a_slot(tmp_path: Path) -> None:
    """A persist while every query slot is taken installs its file unaggregated, at once."""
    app = _build(tmp_path, 64 << 20, max_concurrent_queries=1, query_timeout_seconds=0)
    try:
        _write((app,), "warm", "cpu,host=a i=1i 1")
        sql = "SELECT host, count(*) FROM cpu GROUP BY host"
        assert _run(app, "warm", sql)[1] == [("a", 1)]  # now a recent statement
        misses = _partials(app).misses
        held = app.query._runner.start()  # the only slot
        try:
            persisted = threading.Thread(
                target=_write, args=((app,), "warm", "cpu,host=b i=2i 7200000000000")
            )
            persisted.start()
            persisted.join(timeout=30)  # a hang guard, not a timing assertion
            assert not persisted.is_alive()
        finally:
            held.close()
        assert _partials(app).misses == misses  # not aggregated ahead
        assert _run(app, "warm", sql)[1] == [("a", 1), ("b", 1)]
        assert _partials(app).misses == misses + 1  # the query did it
    finally:
        app.close()


def test_a_failed_warm_is_a_later_miss_and_a_dropped_table_is_forgotten(
    apps: tuple[App, App],
) -> None:
    cached = apps[0]
    _write(apps, "fails", "cpu,host=a i=1i 1")
    sql = "SELECT host, count(*) FROM cpu WHERE 10 / (i - 3) > 0 GROUP BY host"
    _same(apps, "fails", sql)  # recent now
    _write(apps, "fails", "cpu,host=a i=3i 7200000000000")  # its warm fails: divide by zero
    assert cached.persister.tables.buffers.table("fails", "cpu").files  # the persist went through
    _same(apps, "fails", sql)  # the division's error, as the plain plan says it
    cached.query.forget_table("fails", "cpu")
    misses = _partials(cached).misses
    _write((cached,), "fails", "cpu,host=a i=1i 10800000000000")
    assert _partials(cached).misses == misses  # nothing warmed for a forgotten table


def test_small_tables_run_as_planned(tmp_path: Path) -> None:
    """Below ``MIN_ROWS`` rows to read, two more DataFusion runs cost more than they save."""
    app = _build(tmp_path, 64 << 20)
    app.query.partial_aggregates.min_rows = MIN_ROWS
    try:
        for hour in range(1, 4):
            _write((app,), "small", f"cpu,host=h{hour} i={hour}i {hour * HOUR}")
        sql = "SELECT host, count(*) FROM cpu GROUP BY host"
        for _ in range(2):
            assert _run(app, "small", sql)[1] == [("h1", 1), ("h2", 1), ("h3", 1)]
        assert (_partials(app).hits, _partials(app).misses) == (0, 0)
    finally:
        app.close()


def test_rows_counted_as_the_zone_maps_cut_a_cached_file(tmp_path: Path) -> None:
    """A cached file holds more than ``min_rows`` rows, but a statement over one host reads
    at most two zone-map chunks of it: that statement runs as planned (TSBS's
    single-groupby-1-1-1 took twice as long through partials), a statement over every
    host through partials."""
    app = _build(tmp_path, 64 << 20)
    app.query.partial_aggregates.min_rows = 4_096  # above two 1,024-row chunks
    try:
        body = "\n".join(
            f"cpu,host=h{h:03d} i={t}i {t * 1_000_000_000}" for h in range(200) for t in range(100)
        )
        _write((app,), "zones", body)
        one = "SELECT host, count(*) FROM cpu WHERE host = 'h007' GROUP BY host"
        assert _run(app, "zones", one)[1] == [("h007", 100)]
        assert (_partials(app).hits, _partials(app).misses) == (0, 0)
        every = "SELECT count(i) FROM cpu"  # count(*): from statistics (test_partial_counts)
        assert _run(app, "zones", every)[1] == [(20_000,)]
        assert _partials(app).misses + _partials(app).hits == 1
    finally:
        app.close()


def test_a_rest_alone_is_answered_by_the_final_aggregate(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing kept (a buffer shorter than a segment, files all deduplicated with each
    other): the final aggregate reads the rest's partial states alone, in one run, not the
    plain plan (DataFusion refused an aggregate straight over the states' names)."""
    for app in apps:
        _write((app,), "alone", "cpu,host=a i=1i 1\ncpu,host=b i=2i 2\ncpu,host=a i=3i 3", False)
    answered = answered_from_partials(monkeypatch, apps[0])
    for sql in (
        "SELECT host, count(*), sum(i), avg(i) FROM cpu GROUP BY host",
        "SELECT count(*), max(i) FROM cpu",
    ):
        want = _run(apps[1], "alone", sql)
        assert _run(apps[0], "alone", sql) == want
        assert answered[-1] is True, sql
