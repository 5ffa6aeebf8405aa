"""Statements kept partials answer are planned over the tables' stand-ins, not their files.

Building a table over its files cost a plan time that grew with the files (issue 20's soak);
partial aggregates need of the plan only its shape and schema. These tests prove that such a
statement, prepared and run, never builds its table over the files, that its prepared schema
is the one the plan over the files gives (placeholders unbound too), and that a statement the
partials do not answer, or a wrong one, is planned and reported as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer
from flight_iox.auth.tokens import FileTokenStore
from flight_iox.config import Settings
from flight_iox.engine.arrow_writer import EngineWriter
from flight_iox.errors import DatabaseNotFoundError, DataFileUnavailableError, QueryError
from flight_iox.query import pruned_plans
from flight_iox.query.engine import QueryEngine
from flight_iox.query.probe_plans import ProbePlanner
from tests.unit.query.partials_answered import answered_from_partials
from tests.unit.query.test_partial_aggs import (
    ELIGIBLE,
    QUERIES,
    _build,
    _close,
    _lines,
    _rows,
    _write,
)

DATABASE = "probe"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    cached = _build(tmp_path_factory.mktemp("cached"), 64 << 20)
    plain = _build(tmp_path_factory.mktemp("plain"), 0)
    pair = (cached, plain)
    _write(pair, DATABASE, _lines(1, 300), persist=True)
    _write(pair, DATABASE, _lines(2, 300, start_minute=10), persist=True)
    _write(pair, DATABASE, _lines(3, 100, start_minute=20))
    yield pair
    cached.close()
    plain.close()


def _built_over_files(app: App) -> bool:
    """Whether the table's provider over every file was built for its registration (the
    registry builds it lazily, the first time a statement is planned over the files)."""
    registration = app.query._registry.source(DATABASE, "cpu")
    assert registration is not None and registration.lazy  # it has files: a stand-in
    return registration.full is not None


@pytest.mark.parametrize("name", ELIGIBLE)
def test_an_answered_statement_never_builds_its_table_over_the_files(
    apps: tuple[App, App], name: str
) -> None:
    cached, plain = apps
    sql = QUERIES[name]
    _write(apps, DATABASE, _lines(4, 3, start_minute=30))  # a new registration
    scoped = cached.sql.scoped(ANONYMOUS)
    schema = scoped.query_schema(DATABASE, sql)
    got = _rows(cached, DATABASE, sql)
    assert not _built_over_files(cached), name
    assert schema == got[0] == plain.sql.scoped(ANONYMOUS).query_schema(DATABASE, sql)
    want = _rows(plain, DATABASE, sql)[1]
    assert len(got[1]) == len(want)
    for row, expected in zip(got[1], want, strict=True):  # sums to 1e-9: another order
        assert all(map(_close, row, expected)), (name, row, expected)


def test_the_schema_with_a_placeholder_unbound_is_the_plans(apps: tuple[App, App]) -> None:
    cached, plain = apps
    sql = "SELECT host, count(*), avg(f) FROM cpu WHERE f > $1 GROUP BY host"
    _write(apps, DATABASE, _lines(5, 3, start_minute=31))
    want = plain.sql.scoped(ANONYMOUS).query_schema(DATABASE, sql)
    assert cached.sql.scoped(ANONYMOUS).query_schema(DATABASE, sql) == want
    _write(apps, DATABASE, _lines(7, 3, start_minute=33))  # a new registration
    bound = cached.sql.scoped(ANONYMOUS).execute(DATABASE, sql, [0.5]).read_all()
    assert not _built_over_files(cached)  # bound, it is answered from partials
    assert bound.schema == want
    assert bound.num_rows > 0


def test_a_statement_the_partials_do_not_answer_is_planned_over_its_files(
    apps: tuple[App, App],
) -> None:
    cached, plain = apps
    sql = QUERIES["having"]
    _write(apps, DATABASE, _lines(6, 3, start_minute=32))
    assert _rows(cached, DATABASE, sql) == _rows(plain, DATABASE, sql)
    assert _built_over_files(cached)


def test_a_wrong_statement_is_reported_as_before(apps: tuple[App, App]) -> None:
    cached, plain = apps
    sql = "SELECT host, count(nosuch) FROM cpu GROUP BY host"
    errors = []
    for app in (cached, plain):
        with pytest.raises(QueryError) as failed:
            app.sql.scoped(ANONYMOUS).execute(DATABASE, sql).read_all()
        errors.append(str(failed.value))
    assert errors[0] == errors[1]
    assert "nosuch" in errors[0]


def test_without_the_aggregate_cache_nothing_is_probed(tmp_path: Path) -> None:
    app = _build(tmp_path, 0)
    try:
        _write((app,), DATABASE, _lines(1, 50), persist=True)
        _rows(app, DATABASE, QUERIES["soak"])
        assert _built_over_files(app)
    finally:
        app.close()


def test_a_file_lost_after_its_partial_was_kept_fails_the_statement(tmp_path: Path) -> None:
    """``repair`` finding a file lost makes the next statement over it fail naming it, as
    before: a file not in the Parquet cache is checked by a provider over it, so a statement
    is not answered from partials until then."""
    settings = Settings(data_dir=tmp_path / "data", wal_fsync=False, parquet_cache_size=0)
    app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(tmp_path / "tokens.json")))
    app.query.partial_aggregates.min_rows = 0
    try:
        _write((app,), DATABASE, _lines(1, 50), persist=True)
        sql = QUERIES["soak"]
        _rows(app, DATABASE, sql)
        _rows(app, DATABASE, sql)  # from the kept partial
        (file,) = app.iceberg.load(DATABASE, "cpu").files.files
        path = app.storage.path(file.path)
        Path(path).unlink()
        app.query.recheck_files(DATABASE, "cpu", {file.path})
        with pytest.raises(DataFileUnavailableError) as failed:
            _rows(app, DATABASE, sql)
        assert failed.value.path == file.path
    finally:
        app.close()


def test_a_database_that_does_not_exist_makes_no_context(apps: tuple[App, App]) -> None:
    cached, _ = apps
    contexts = cached.query._contexts._contexts
    before = set(contexts)
    with pytest.raises(DatabaseNotFoundError):
        cached.sql.scoped(ANONYMOUS).execute("nosuch", QUERIES["soak"]).read_all()
    assert set(contexts) == before


def test_a_statement_the_partials_declined_is_not_probed_again_at_once(tmp_path: Path) -> None:
    """A NaN among grouped float maxima leaves the statement to the plain plan
    (``partial_final.order_dependent``); the next runs plan it over its files directly."""
    app = _build(tmp_path, 64 << 20)
    try:
        for hour in range(2):
            values = [float("nan") if n == 7 else n + 0.5 for n in range(40)]
            table = pa.table(
                {
                    "host": [f"h{n % 3}" for n in range(40)],
                    "f": values,
                    "time": pa.array(
                        [hour * 3_600 * 10**9 + n for n in range(40)], pa.timestamp("ns")
                    ),
                }
            )
            EngineWriter(app.engine).write_arrow(
                DATABASE, "m", table, ["host"], principal=ANONYMOUS
            )
            app.persister.persist(DATABASE)
        sql = "SELECT host, max(f) FROM m GROUP BY host"
        first = _rows(app, DATABASE, sql)
        partials = app.query.partial_aggregates
        counts = (partials.hits, partials.misses)
        assert counts == (0, 2)  # made for each file, then declined: a NaN
        for _ in range(2):
            EngineWriter(app.engine).write_arrow(
                DATABASE, "m", table.slice(0, 1), ["host"], principal=ANONYMOUS
            )  # a new registration: no kept plan
            assert str(_rows(app, DATABASE, sql)) == str(first)
            assert (partials.hits, partials.misses) == counts
    finally:
        app.close()


def test_files_no_provider_checked_yet_are_checked_once_then_answered(tmp_path: Path) -> None:
    """Without the Parquet cache no file is in memory, and none was scanned: the partials
    check them (as any provider over them does) instead of leaving them to the plain plan."""
    settings = Settings(data_dir=tmp_path / "data", wal_fsync=False, parquet_cache_size=0)
    app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(tmp_path / "tokens.json")))
    app.query.partial_aggregates.min_rows = 0
    try:
        _write((app,), DATABASE, _lines(1, 50), persist=True)
        _write((app,), DATABASE, _lines(2, 50, start_minute=10), persist=True)
        for _ in range(3):
            _rows(app, DATABASE, QUERIES["soak"])
        assert app.query.partial_aggregates.hits == 4  # two files, the second and third runs
        assert not _built_over_files(app)
    finally:
        app.close()


def test_a_small_statement_is_not_planned_twice(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the partials' row minimum nothing is planned over the stand-ins, and the plan
    over the files reuses the needs the probe found (one ``statement_needs`` a run)."""
    cached, plain = apps
    partials = cached.query.partial_aggregates
    partials.min_rows = 1 << 40
    calls: list[str] = []
    found = pruned_plans.statement_needs

    def counted(sql: str, *args: Any) -> Any:
        calls.append(sql)
        return found(sql, *args)

    monkeypatch.setattr(pruned_plans, "statement_needs", counted)
    try:
        sql = "SELECT host, count(*) FROM cpu WHERE host = 'a' GROUP BY host"
        _write(apps, DATABASE, _lines(8, 3, start_minute=34))  # a new registration
        assert _rows(cached, DATABASE, sql) == _rows(plain, DATABASE, sql)
        assert len(calls) == 2  # one per server: the cached one probed, then planned
    finally:
        partials.min_rows = 0


def test_a_repeated_statement_reuses_its_plan_over_the_stand_ins(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same statement over the same table state is planned over the stand-ins once (the
    statement cache keeps that plan for the partials); a write is a new state, a new plan."""
    cached, plain = apps
    planned: list[str] = []
    plan = ProbePlanner.plan

    def counted(self: ProbePlanner, database: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        if self is cached.query._probes:
            planned.append(sql)
        return plan(self, database, sql, *args, **kwargs)

    monkeypatch.setattr(ProbePlanner, "plan", counted)
    sql = QUERIES["soak"]
    _write(apps, DATABASE, _lines(9, 3, start_minute=40))  # a new registration
    for _ in range(3):
        assert _rows(cached, DATABASE, sql) == _rows(plain, DATABASE, sql)
    assert len(planned) == 1
    _write(apps, DATABASE, _lines(10, 3, start_minute=41))
    assert _rows(cached, DATABASE, sql) == _rows(plain, DATABASE, sql)
    assert len(planned) == 2


def test_a_declined_statement_drops_its_kept_plan_over_the_stand_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declined at run time (a NaN among grouped float maxima), the statement's kept plan
    over the stand-ins is dropped: its repeats run one kept plan over its files, not a plan
    made afresh each run (``_declined_lately`` alone already keeps them right)."""
    app = _build(tmp_path, 64 << 20)
    try:
        values = [float("nan") if n == 7 else n + 0.5 for n in range(40)]
        table = pa.table(
            {
                "host": [f"h{n % 3}" for n in range(40)],
                "f": values,
                "time": pa.array(list(range(40)), pa.timestamp("ns")),
            }
        )
        EngineWriter(app.engine).write_arrow(DATABASE, "m", table, ["host"], principal=ANONYMOUS)
        app.persister.persist(DATABASE)
        answered = answered_from_partials(monkeypatch, app)
        over_files: list[str] = []
        plan = QueryEngine._plan

        def counted(self: QueryEngine, database: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
            over_files.append(sql)
            return plan(self, database, sql, *args, **kwargs)

        monkeypatch.setattr(QueryEngine, "_plan", counted)
        sql = "SELECT host, max(f) FROM m GROUP BY host"
        first = _rows(app, DATABASE, sql)
        assert answered == [False]
        for _ in range(3):
            assert str(_rows(app, DATABASE, sql)) == str(first)
        assert answered == [False]  # never asked again
        assert len(over_files) == 2  # the declined run, then one plan kept for the repeats
    finally:
        app.close()


def test_kept_plans_over_the_stand_ins_are_per_parameter_value(apps: tuple[App, App]) -> None:
    """Each bound value is its own statement key: repeats, in any order, each answer as the
    plan over the files answers that value."""
    cached, plain = apps
    sql = "SELECT host, count(*), sum(i) FROM cpu WHERE i > $1 GROUP BY host"
    for value in (0, 30, -50, 0, 30, -50):  # i is in [-40, 56]
        want = plain.sql.scoped(ANONYMOUS).execute(DATABASE, sql, [value]).read_all()
        got = cached.sql.scoped(ANONYMOUS).execute(DATABASE, sql, [value]).read_all()
        assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr), value
        assert want.num_rows > 0, value  # every value keeps rows: the answers say something
