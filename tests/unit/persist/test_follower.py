"""The catalog mirror: two engines on one SQLite catalog and one warehouse see each other's commits.

Ticks are called directly (the follower thread only repeats them); the e2e version with
PostgreSQL and two server processes is ``tests/e2e/test_catalog_follow.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist.follower import CatalogFollower, FollowReport


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[App, App]]:
    """Two servers' apps sharing ``catalog.db`` and the ``warehouse`` folder (their own WALs)."""
    (tmp_path / "warehouse").mkdir()
    apps = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "warehouse").symlink_to(tmp_path / "warehouse")
        settings = Settings(
            data_dir=tmp_path / name,
            wal_fsync=False,
            catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        )
        apps.append(build_app(settings))
    yield apps[0], apps[1]
    for app in apps:
        app.close()


def tick(app: App) -> FollowReport:
    report = app.follower.tick()
    assert report is not None
    return report


def write(app: App, database: str, body: str) -> None:
    app.engine.write_line_protocol(database, body.encode(), principal=ANONYMOUS)


def count(app: App, database: str, sql: str = "SELECT count(*) AS n FROM cpu") -> object:
    return app.query.execute(database, sql).read_all().to_pylist()


def test_commits_of_another_engine_are_applied_and_own_commits_are_not_reread(
    pair: tuple[App, App],
) -> None:
    a, b = pair
    write(a, "db", "\n".join(f"cpu,host=h{i} v={i} {i}" for i in range(5)))
    a.persister.persist()
    assert tick(a) == FollowReport()  # a's own commit: nothing to read
    assert not b.catalog.has_database("db")
    assert tick(b) == FollowReport(databases=["db"], tables=["db.cpu"])
    assert count(b, "db") == [{"n": 5}]
    assert tick(b) == FollowReport()  # nothing changed since

    write(b, "db", "cpu,host=b v=1,extra=2i 100")  # b's buffer, merged with a's files
    write(a, "db", "cpu,host=h0 v=9,other=true 0")  # overwrites a persisted row
    a.persister.persist()
    tick(b)
    sql = "SELECT count(*) AS n, sum(v) AS s, count(other) AS o FROM cpu"
    assert count(b, "db", sql) == [{"n": 6, "s": 1.0 + 9 + 1 + 2 + 3 + 4, "o": 1}]

    b.persister.persist()  # b's commit on top of a's: a reads it, b does not
    assert tick(b) == FollowReport()
    assert tick(a).tables == ["db.cpu"]
    assert count(a, "db", "SELECT count(*) AS n, sum(extra) AS e FROM cpu") == [{"n": 6, "e": 2}]


def test_drops_elsewhere_drop_here_and_replay_does_not_bring_them_back(
    pair: tuple[App, App], tmp_path: Path
) -> None:
    a, b = pair
    write(a, "db", "cpu,host=a v=1 1\nmem,host=a v=1 1")
    write(a, "gone", "cpu,host=a v=1 1")
    a.persister.persist()
    tick(b)
    write(b, "db", "cpu,host=b v=2 2")  # buffered on b only
    a.deleter.drop_table("db", "cpu")
    a.engine.delete_database("gone")
    report = tick(b)
    assert sorted(report.dropped) == ["db.cpu", "gone", "gone.cpu"]
    assert sorted(b.query.table_schemas("db")) == ["mem"]
    assert b.catalog.database_names() == ["db"]
    assert tick(a) == FollowReport()  # its own drops were already applied

    b.close()  # b restarts: its WAL still holds its row of db.cpu
    again = build_app(b.settings)
    try:
        assert sorted(again.query.table_schemas("db")) == ["mem"]
    finally:
        again.close()


def test_an_unreadable_catalog_or_table_leaves_the_last_state_until_it_reads_again(
    pair: tuple[App, App], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pair
    write(a, "db", "cpu,host=a v=1 1")
    a.persister.persist()
    tick(b)
    write(a, "db", "cpu,host=a v=2 2\nmem,host=a v=1 1")
    a.persister.persist()

    catalog = sqlite3.connect(tmp_path / "catalog.db")
    catalog.execute("ALTER TABLE iceberg_tables RENAME TO away")
    catalog.commit()
    follower = CatalogFollower(
        b.mirror, b.query, b.persister.cycle_lock, lambda: b.wal.last_sequence, 1.0
    )
    assert follower.tick() is None and follower.tick() is None
    assert sum("following the catalog failed" in r.message for r in caplog.records) == 1
    assert count(b, "db") == [{"n": 1}]  # the last state applied
    catalog.execute("ALTER TABLE away RENAME TO iceberg_tables")
    catalog.commit()
    catalog.close()

    metadata = Path(a.iceberg.state().tables[("db", "mem")].removeprefix("file://"))
    metadata.rename(metadata.with_suffix(".away"))
    report = tick(b)
    assert (report.tables, report.failed) == (["db.cpu"], ["db.mem"])
    assert count(b, "db") == [{"n": 2}]
    metadata.with_suffix(".away").rename(metadata)
    assert tick(b).tables == ["db.mem"]
    assert count(b, "db", "SELECT count(*) AS n FROM mem") == [{"n": 1}]


def test_a_column_this_engine_knows_keeps_its_type(pair: tuple[App, App]) -> None:
    a, b = pair
    write(b, "db", "cpu,host=b v=1.5 1")  # buffered here: v is a float
    write(a, "db", "cpu,host=a v=2i,w=3i 2")  # there: an integer, and a new column
    a.persister.persist()
    tick(b)
    schema = b.query.table_schemas("db")["cpu"]
    assert (str(schema.field("v").type), str(schema.field("w").type)) == ("double", "int64")
    assert count(b, "db", "SELECT count(*) AS n, sum(v) AS v FROM cpu") == [{"n": 2, "v": 3.5}]


def test_a_tick_racing_a_delete_here_does_not_bring_the_database_back(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick between the delete here and the shared catalog's drop, or one whose listing
    was taken before the delete, used to create the database again (seen as a deleted
    bucket still listed in CI); a database created anew elsewhere afterwards still appears.
    """
    a, b = pair
    a.engine.create_database("raced", None)
    tick(a)  # a has seen it, with no retention
    a.engine.set_retention("raced", 3_600 * 10**9)  # a changed retention: the next tick looks

    drop = a.iceberg.drop_database

    def tick_then_drop(name: str) -> None:  # the follower's thread runs between the two
        assert tick(a).databases == []
        drop(name)

    monkeypatch.setattr(a.iceberg, "drop_database", tick_then_drop)
    a.engine.delete_database("raced")
    assert "raced" not in a.catalog.database_names()

    a.engine.create_database("stale", None)
    listing = a.iceberg.state

    def listed_then_deleted() -> object:  # the listing holds it, the delete ends after
        state = listing()
        monkeypatch.setattr(a.iceberg, "state", listing)
        monkeypatch.setattr(a.iceberg, "drop_database", drop)
        a.engine.delete_database("stale")
        return state

    monkeypatch.setattr(a.iceberg, "state", listed_then_deleted)
    assert tick(a).databases == []
    assert tick(a) == FollowReport()
    assert a.catalog.database_names() == []

    b.engine.create_database("raced", None)  # created anew by another server: followed
    assert tick(a).databases == ["raced"]
    # Both deletes ended before that tick's listing: no later listing can race them, so
    # their record is gone (it used to grow by one entry per database ever deleted).
    assert not a.catalog.changed_since("stale", 0.0)
    assert not a.catalog.changed_since("raced", 0.0)


def test_a_tick_listed_before_a_retention_change_here_does_not_put_the_old_one_back(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing taken before a retention change here used to write the old period back
    until the next tick (CI: a bucket's cleared retention read back as 7 days)."""
    a, b = pair
    week = 7 * 86_400 * 10**9
    a.engine.create_database("kept", week)
    listing = a.iceberg.state

    def listed_then_changed() -> object:  # the listing holds the week, the change ends after
        state = listing()
        monkeypatch.setattr(a.iceberg, "state", listing)
        a.engine.set_retention("kept", None)
        return state

    monkeypatch.setattr(a.iceberg, "state", listed_then_changed)
    assert tick(a).databases == []
    assert a.engine.retention_ns("kept") is None
    assert tick(a).databases == []  # the next listing agrees with what is here
    assert a.engine.retention_ns("kept") is None

    set_in_shared_catalog = a.iceberg.set_retention_ns

    def tick_during_change(name: str, retention_ns: int | None) -> None:
        assert tick(a).databases == []  # the follower's thread runs mid-change
        set_in_shared_catalog(name, retention_ns)

    monkeypatch.setattr(a.iceberg, "set_retention_ns", tick_during_change)
    a.engine.set_retention("kept", week)
    assert a.engine.retention_ns("kept") == week
    monkeypatch.setattr(a.iceberg, "set_retention_ns", set_in_shared_catalog)

    tick(b)
    b.engine.set_retention("kept", 3_600 * 10**9)  # changed elsewhere later: followed
    assert tick(a).databases == ["kept"]
    assert a.engine.retention_ns("kept") == 3_600 * 10**9
