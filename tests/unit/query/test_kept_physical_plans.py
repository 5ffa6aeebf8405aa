"""A reused statement runs its kept physical plan only when running it again is safe, and
always gives the answer a fresh plan gives: after writes, schema changes, for another
principal, and with ``now()``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.config import Settings
from flight_iox.errors import FlightIoxError
from flight_iox.query import execution, kept_plans, pruned_plans

ROWS = b"\n".join(f"cpu,host=h{i % 3} v={i} {i + 1}".encode() for i in range(30))
READER = Principal(
    "r", False, TokenRecord("id", "r", "h", False, (Permission("db", frozenset({Action.READ})),))
)

# Shapes a kept plan serves (one partition, memory tables): each runs three times.
KEPT = [
    "SELECT host, max(v) AS m FROM cpu GROUP BY host ORDER BY host",
    "SELECT max(v) AS hi, min(v) AS lo, count(*) AS n FROM cpu",
    "SELECT host, v FROM cpu WHERE v > 20 ORDER BY v",
    "SELECT date_bin(INTERVAL '1 second', time) AS t, sum(v) AS s FROM cpu GROUP BY 1 ORDER BY 1",
]
# Shapes whose operators keep state between runs: never kept, and right every time.
NOT_KEPT = [
    "SELECT host, v FROM cpu ORDER BY v DESC LIMIT 3",  # TopK's dynamic filter
    "SELECT a.v FROM cpu a JOIN cpu b ON a.v = b.v ORDER BY a.v",  # a hash join
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    # Without partial aggregates, which answer these GROUP BYs from per-file partials.
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=False, aggregate_cache_size=0))
    for database in ("db", "other"):
        app.engine.write_line_protocol(database, ROWS, principal=ANONYMOUS)
    yield app
    app.close()


def _fresh(sql: str, app: App) -> pa.Table:
    """The answer of a plan made from nothing kept (DataFusion over the same rows)."""
    ctx = SessionContext()
    rows = app.query.execute("db", "SELECT * FROM cpu WHERE random() >= 0").read_all()
    ctx.register_record_batches("cpu", [rows.to_batches()])
    return pa.Table.from_batches([b for b in ctx.sql(sql).collect()])


def _awaited_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per batch awaited on a loop from now on (a hop to DataFusion's threads)."""
    awaited: list[int] = []
    original = execution.Query._next

    def counting(self: execution.Query) -> pa.RecordBatch | None:
        awaited.append(1)
        return original(self)

    monkeypatch.setattr(execution.Query, "_next", counting)
    return awaited


def _kept_count() -> int:
    return sum(plan is not None for plan in kept_plans._KEPT.values())


@pytest.mark.parametrize("sql", KEPT)
def test_a_safe_plan_is_kept_and_answers_the_same(app: App, sql: str) -> None:
    before = _kept_count()
    answers = [app.query.execute("db", sql).read_all() for _ in range(3)]
    assert _kept_count() == before + 1
    expected = _fresh(sql, app)
    for answer in answers:
        assert answer.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("sql", NOT_KEPT)
def test_a_stateful_plan_is_planned_each_run(app: App, sql: str) -> None:
    before = _kept_count()
    answers = [app.query.execute("db", sql).read_all().to_pylist() for _ in range(3)]
    assert _kept_count() == before
    assert answers[0] == answers[1] == answers[2] == _fresh(sql, app).to_pylist()
    assert answers[0]


def test_is_safe_refuses_topk_and_several_partitions() -> None:
    ctx = SessionContext()
    ctx.register_record_batches(
        "t", [[pa.record_batch({"a": [1, 2]})], [pa.record_batch({"a": [3]})]]
    )
    assert not kept_plans.is_safe(ctx.sql("SELECT a FROM t").execution_plan())  # 2 partitions
    one = SessionContext(SessionConfig().with_target_partitions(1))
    one.register_record_batches("t", [[pa.record_batch({"a": [1, 2, 3]})]])
    assert not kept_plans.is_safe(one.sql("SELECT a FROM t ORDER BY a LIMIT 1").execution_plan())
    assert kept_plans.is_safe(one.sql("SELECT sum(a) FROM t WHERE a > 1").execution_plan())


def test_a_write_between_runs_is_seen(app: App) -> None:
    sql = KEPT[1]
    assert app.query.execute("db", sql).read_all().column("n").to_pylist() == [30]
    assert app.query.execute("db", sql).read_all().column("n").to_pylist() == [30]
    app.engine.write_line_protocol("db", b"cpu,host=h9 v=100 99", principal=ANONYMOUS)
    table = app.query.execute("db", sql).read_all()
    assert table.to_pylist() == [{"hi": 100.0, "lo": 0.0, "n": 31}]


def test_a_schema_change_between_runs_is_seen(app: App) -> None:
    sql = "SELECT * FROM cpu WHERE v > 28"
    first = app.query.execute("db", sql).read_all()
    assert app.query.execute("db", sql).read_all() == first
    app.engine.write_line_protocol("db", b"cpu,host=h1 v=50,w=1 100", principal=ANONYMOUS)
    table = app.query.execute("db", sql).read_all()
    assert "w" in table.column_names
    assert sorted(table.column("v").to_pylist()) == [29.0, 50.0]


def test_another_principal_never_runs_a_kept_plan_with_other_rights(app: App) -> None:
    sql = "SELECT count(*) AS n FROM other.iox.cpu"
    admin = app.sql.scoped(ANONYMOUS)
    assert admin.execute("db", sql).read_all().column("n").to_pylist() == [30]
    assert admin.execute("db", sql).read_all().column("n").to_pylist() == [30]  # kept
    with pytest.raises(FlightIoxError):
        app.sql.scoped(READER).execute("db", sql).read_all()
    reader_sql = "SELECT count(*) AS n FROM cpu"
    assert admin.execute("db", reader_sql).read_all().column("n").to_pylist() == [30]
    assert app.sql.scoped(READER).execute("db", reader_sql).read_all().column("n").to_pylist() == [
        30
    ]


def test_now_is_read_at_each_run(app: App) -> None:
    sql = "SELECT now() AS t, count(*) AS n FROM cpu"
    times = [app.query.execute("db", sql).read_all().column("t")[0].value for _ in range(3)]
    assert times[0] < times[1] < times[2]


def test_a_small_kept_plan_is_pulled_on_the_calling_thread(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = KEPT[0]
    expected = _fresh(sql, app).to_pylist()
    awaited = _awaited_batches(monkeypatch)
    for _ in range(2):
        assert app.query.execute("db", sql).read_all().to_pylist() == expected
    assert awaited == []  # no batch awaited on a loop: no hop to DataFusion's threads
    monkeypatch.setattr(pruned_plans, "SMALL_ROWS", 0)  # now every statement reads many rows
    app.engine.write_line_protocol("db", b"cpu,host=h0 v=0.5 1000", principal=ANONYMOUS)
    app.query.execute("db", sql).read_all()
    assert awaited  # awaited as any statement that may read many rows


def test_a_few_hosts_cut_from_a_cached_file_keep_their_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement over a few hosts reads several zone-map chunks of a cached file: that
    memory table stays on one partition, so its plan is kept and pulled on this thread
    (on two partitions it was gathered by an operator a kept plan may not hold)."""
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=False, aggregate_cache_size=0))
    try:
        body = "\n".join(
            f"cpu,host=h{h:03d} v={t} {t * 1_000_000_000}" for h in range(64) for t in range(1024)
        )
        app.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)
        app.persister.persist("db")
        sql = (
            "SELECT host, max(v) AS m, count(*) AS n FROM cpu "
            "WHERE host IN ('h001', 'h007', 'h030', 'h041', 'h050', 'h063') "
            "GROUP BY host ORDER BY host"
        )
        before = _kept_count()
        answers = [app.query.execute("db", sql).read_all().to_pylist() for _ in range(2)]
        awaited = _awaited_batches(monkeypatch)
        answers.append(app.query.execute("db", sql).read_all().to_pylist())
        assert awaited == []  # the kept plan pulled on this thread
        assert _kept_count() == before + 1
        assert answers[0] == answers[1] == answers[2]
        assert [(r["host"], r["m"], r["n"]) for r in answers[0]] == [
            (f"h{h:03d}", 1023.0, 1024) for h in (1, 7, 30, 41, 50, 63)
        ]
    finally:
        app.close()
