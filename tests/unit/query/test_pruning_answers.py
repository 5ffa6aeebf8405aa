"""Pruning on and off answer alike over a TSBS-like table, in process (cheap, default suite).

The same data and SQL as ``tests/e2e/test_pruning.py`` (which runs them through two real
servers, InfluxQL too, under ``-m slow``): two apps, one with ``query_file_pruning`` off,
hourly partitions in four hostname buckets, two persists (the second overwriting some keys
field by field) and rows still buffered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query import zone_maps
from iox_catalog.partition_template import template_partition_by
from tests.e2e.test_pruning import DB, HOUR, SQL, T0, TEMPLATE, lines


def loaded(folder: Path, pruning: bool, cache: int = 0) -> App:
    app = build_app(
        Settings(data_dir=folder, wal_fsync=False, parquet_cache_size=cache,
                 query_file_pruning=pruning)
    )  # fmt: skip
    app.engine.create_database(DB, None, template_partition_by(TEMPLATE))
    for body, persist in (
        (lines(T0, 6, 0.0), True),
        (lines(T0 + 2 * HOUR, 2, 1000.0, every=3), True),
        (lines(T0 + 5 * HOUR, 2, 5000.0), False),
    ):
        app.engine.write_line_protocol(DB, body.encode(), principal=ANONYMOUS)
        if persist:
            app.persister.persist()
    return app


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    on = loaded(tmp_path_factory.mktemp("on") / "data", pruning=True)
    off = loaded(tmp_path_factory.mktemp("off") / "data", pruning=False)
    yield on, off
    on.close()
    off.close()


@pytest.fixture(scope="module")
def cached_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    """The files in the Parquet cache: pruning on cuts them by zone maps of a few rows."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zone_maps, "CHUNK_ROWS", 7)
        on = loaded(tmp_path_factory.mktemp("cached_on") / "data", True, 1 << 30)
        off = loaded(tmp_path_factory.mktemp("cached_off") / "data", False, 1 << 30)
        yield on, off
    on.close()
    off.close()


@pytest.mark.parametrize("text", SQL)
def test_same_answers(apps: tuple[App, App], text: str) -> None:
    on, off = apps
    got, want = (app.query.execute(DB, text).read_all() for app in (on, off))
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()  # dictionaries may be chunked differently


@pytest.mark.parametrize("text", SQL)
def test_same_answers_from_the_parquet_cache(cached_apps: tuple[App, App], text: str) -> None:
    on, off = cached_apps
    got, want = (app.query.execute(DB, text).read_all() for app in (on, off))
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()


def test_writes_after_a_pruned_query_are_seen(apps: tuple[App, App]) -> None:
    """A table registered again after a write (its stand-in, its pruned view) shows the row."""
    app = apps[0]
    database = "after_writes"  # its own database: the module's table stays as loaded
    since = f"arrow_cast({T0}, 'Timestamp(Nanosecond, None)')"
    sql = f"SELECT count(*) AS n FROM cpu WHERE hostname = 'h' AND time >= {since}"
    app.engine.write_line_protocol(
        database, f"cpu,hostname=h v=1 {T0}".encode(), principal=ANONYMOUS
    )
    app.persister.persist()
    counts = [app.query.execute(database, sql).read_all().column("n")[0].as_py()]
    for step in (1, 2):
        line = f"cpu,hostname=h v=1 {T0 + step * HOUR}"
        app.engine.write_line_protocol(database, line.encode(), principal=ANONYMOUS)
        counts.append(app.query.execute(database, sql).read_all().column("n")[0].as_py())
    assert counts == [1, 2, 3]
