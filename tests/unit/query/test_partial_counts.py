"""Which statements the partial aggregates leave to DataFusion's statistics, and where their
final aggregate runs.

``count(*)`` over a table that is one in-memory table (every file in the Parquet cache, none
overlapping another source) is answered by DataFusion from the table's row count, reading
no row; from partials it took 1.1 ms against 0.3 ms (bench/partial_final.py). A final
aggregate over a few partial states runs on the calling thread in one shared context.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query import partial_runs
from flight_iox.query.execution import Query
from tests.unit.query.partials_answered import answered_from_partials

ROWS = "\n".join(f"cpu,host=h{h} i={t}i,f={t / 3} {t}" for h in range(8) for t in range(200))


def _build(folder: Path, size: int, **settings: Any) -> App:
    config = Settings(data_dir=folder, wal_fsync=False, aggregate_cache_size=size, **settings)
    app = build_app(config)
    app.query.partial_aggregates.min_rows = 0  # small tables run as planned otherwise
    return app


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[App, App]]:
    cached, plain = _build(tmp_path / "cached", 64 << 20), _build(tmp_path / "plain", 0)
    yield cached, plain
    cached.close()
    plain.close()


def _write(apps: tuple[App, ...], body: str, persist: bool = True) -> None:
    for app in apps:
        app.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)
        if persist:
            app.persister.persist("db")


def _rows(app: App, sql: str) -> list[dict[str, Any]]:
    return app.sql.scoped(ANONYMOUS).execute("db", sql).read_all().to_pylist()


def _plan(app: App, sql: str) -> str:
    explained = app.sql.scoped(ANONYMOUS).execute("db", f"EXPLAIN {sql}").read_all()
    return "\n".join(explained.column("plan").to_pylist())


def test_count_star_of_a_memory_table_is_counted_from_its_statistics(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files in the cache and rows in the buffer, apart: the plain plan, which reads no row."""
    _write(apps, ROWS)
    _write(apps, "cpu,host=h9 i=1i,f=1.0 5000", persist=False)
    answered = answered_from_partials(monkeypatch, apps[0])
    for sql in ("SELECT count(*) FROM cpu", "SELECT count(*) AS n, count(1) AS m FROM cpu"):
        want = _rows(apps[1], sql)
        assert _rows(apps[0], sql) == want
        assert True not in answered, sql
    assert "PlaceholderRowExec" in _plan(apps[0], "SELECT count(*) FROM cpu")
    assert (apps[0].query.partial_aggregates.hits, apps[0].query.partial_aggregates.misses) == (
        0,
        0,
    )


def test_count_star_of_buffered_rows_alone_is_counted_from_statistics(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file yet: the table is the buffer's memory table."""
    _write(apps, ROWS, persist=False)
    answered = answered_from_partials(monkeypatch, apps[0])
    assert _rows(apps[0], "SELECT count(*) AS n FROM cpu") == [{"n": 1600}]
    assert True not in answered
    assert "PlaceholderRowExec" in _plan(apps[0], "SELECT count(*) FROM cpu")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(i) FROM cpu",  # a column's count: its nulls are read
        "SELECT count(*) FROM cpu WHERE host = 'h1'",
        "SELECT host, count(*) FROM cpu GROUP BY host",
        "SELECT count(*), max(i) FROM cpu",
    ],
)
def test_other_counts_still_come_from_partials(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    _write(apps, ROWS)
    answered = answered_from_partials(monkeypatch, apps[0])
    want = sorted(_rows(apps[1], sql), key=repr)
    assert sorted(_rows(apps[0], sql), key=repr) == want
    assert answered[-1] is True


def test_count_star_over_overlapping_files_comes_from_partials(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files sharing keys are deduplicated in a view, which has no exact row count: the
    partials (the overlapping files as the rest) answer, counting each key once."""
    _write(apps, ROWS)
    _write(apps, "cpu,host=h1 i=-1i,f=0.5 3\ncpu,host=h2 i=-2i,f=0.5 4")  # rewrites two rows
    answered = answered_from_partials(monkeypatch, apps[0])
    assert _rows(apps[1], "SELECT count(*) AS n FROM cpu") == [{"n": 1600}]
    assert _rows(apps[0], "SELECT count(*) AS n FROM cpu") == [{"n": 1600}]
    assert answered[-1] is True


def test_count_star_without_the_parquet_cache_comes_from_partials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _build(tmp_path, 64 << 20, parquet_cache_size=0)
    try:
        _write((app,), ROWS)
        answered = answered_from_partials(monkeypatch, app)
        assert _rows(app, "SELECT count(*) AS n FROM cpu") == [{"n": 1600}]
        assert answered[-1] is True
    finally:
        app.close()


def _read_where(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per plan the partial aggregates run from now on: whether on the calling thread."""
    where: list[bool] = []
    read_all = Query.read_all

    def watched(self: Query, frame: Any, keep: bool = False, here: bool = False) -> pa.Table:
        where.append(here)
        return read_all(self, frame, keep, here)

    monkeypatch.setattr(Query, "read_all", watched)
    return where


GROUPED = [
    "SELECT host, sum(i), avg(f), count(f), min(f), max(i) FROM cpu GROUP BY host ORDER BY host",
    "SELECT max(f), min(f), sum(i), count(*) FROM cpu WHERE i > 20",
]


@pytest.mark.parametrize("few_rows", [partial_runs.FEW_ROWS, 0])
def test_finals_over_few_states_run_on_the_calling_thread(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch, few_rows: int
) -> None:
    """Kept partials only (no rest): the final is collected here when the states are few,
    else in a context of its own through DataFusion's threads; the same answer either way."""
    _write(apps, ROWS)
    for sql in GROUPED:
        _rows(apps[0], sql)  # the partials made and kept
    monkeypatch.setattr(partial_runs, "FEW_ROWS", few_rows)
    here = _read_where(monkeypatch)
    for sql in GROUPED:
        assert _rows(apps[0], sql) == _rows(apps[1], sql), sql
    assert here and all(where is (few_rows > 0) for where in here)


def test_finals_from_several_threads_share_the_context(apps: tuple[App, App]) -> None:
    """The shared context resolves no name: concurrent finals never see each other's rows."""
    _write(apps, ROWS)
    want = {sql: _rows(apps[1], sql) for sql in GROUPED}
    failures: list[str] = []

    def run() -> None:
        for _ in range(15):
            for sql, rows in want.items():
                if _rows(apps[0], sql) != rows:
                    failures.append(sql)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert apps[0].query.slots_used == 0
