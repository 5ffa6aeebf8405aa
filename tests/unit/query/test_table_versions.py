"""Per-table versions: a write invalidates only what read its table; results stay fresh."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.config import Settings
from flight_iox.query.reads import databases_read, tables_read
from tests.e2e.auth_matrix import OTHER_IN_SQL

SQL = "SELECT host, max(usage) AS m FROM cpu GROUP BY host ORDER BY host"
READER = Principal(
    "t", False, TokenRecord("id", "t", "h", False, (Permission("mine", frozenset({Action.READ})),))
)
_hosts = count()


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = build_app(Settings(data_dir=tmp_path_factory.mktemp("versions") / "d", wal_fsync=False))
    for database in ("mine", "other"):
        _write(app, database)
    yield app
    app.close()


def _write(app: App, database: str, table: str = "cpu") -> str:
    host = f"h{next(_hosts)}"
    body = f"{table},host={host} usage=1 {next(_hosts)}".encode()
    app.engine.write_line_protocol(database, body, principal=ANONYMOUS)
    return host


def _hosts_of(app: App, database: str | None, sql: str) -> set[str]:
    return {str(h) for h in app.query.execute(database, sql).read_all().column("host")}


def test_a_write_to_one_database_keeps_the_other_databases_plans(app: App) -> None:
    query = app.query
    query.execute("mine", SQL).read_all()
    key = query._statement_key("mine", SQL, ())[0]
    plan = query._statements.plan(key, True)
    assert plan is not None  # kept for the repeat
    before = dict(query._registry.registered)

    _write(app, "other")
    assert query._statement_key("mine", SQL, ())[0] == key
    assert query._statements.plan(key, True) is plan
    query.execute("mine", SQL).read_all()
    # The query on ``mine`` did not re-register ``other``'s table either.
    assert query._registry.registered == before

    host = _write(app, "mine")
    assert query._statement_key("mine", SQL, ())[0] != key
    assert host in _hosts_of(app, "mine", SQL)


def test_a_scoped_reader_keeps_its_plans_while_an_unreadable_database_changes(
    app: App,
) -> None:
    scoped = app.sql.scoped(READER)
    scoped.execute("mine", SQL).read_all()
    key = app.query._statement_key("mine", SQL, (), scoped.scope())[0]
    _write(app, "other")
    assert app.query._statement_key("mine", SQL, (), scoped.scope())[0] == key
    host = _write(app, "mine")
    assert host in {str(h) for h in scoped.execute("mine", SQL).read_all().column("host")}


@pytest.mark.parametrize(
    "sql",
    [s for n, s in OTHER_IN_SQL.items() if n not in ("system table", "subquery")],
    ids=lambda s: s[:40],
)
def test_a_query_naming_another_database_sees_its_latest_write(app: App, sql: str) -> None:
    app.query.execute("mine", sql).read_all()  # warm: plans and registrations kept
    host = _write(app, "other")
    assert host in _hosts_of(app, "mine", sql)


def test_a_listing_naming_another_database_sees_its_new_table(app: App) -> None:
    sql = "SELECT table_catalog, table_name FROM information_schema.tables"
    named = f"{sql} WHERE table_catalog = 'other'"
    app.query.execute("mine", named).read_all()
    _write(app, "other", "mem")
    rows = app.query.execute("mine", named).read_all().to_pylist()
    assert {"table_catalog": "other", "table_name": "mem"} in rows
    catalogs = {
        row["table_catalog"] for row in app.query.execute("mine", sql).read_all().to_pylist()
    }
    assert catalogs == {"mine"}  # the session's database only, unless another is named


def test_a_query_without_a_default_database_sees_every_database(app: App) -> None:
    sql = "SELECT host FROM other.iox.cpu"
    app.query.execute(None, sql).read_all()
    host = _write(app, "other")
    assert host in _hosts_of(app, None, sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM cpu", ["mine"]),
        ("SELECT * FROM Other.iox.cpu", ["mine", "other"]),
        ('SELECT * FROM "db-1"."iox".cpu', ["mine", "db-1"]),
        ("SELECT a-other.iox.cpu.x FROM cpu", ["mine", "other"]),
        ("SHOW TABLES", ["mine"]),
        ("SELECT * FROM information_schema.columns", ["mine"]),
        (
            "SELECT * FROM information_schema.tables WHERE table_catalog = 'other'",
            ["mine", "other"],
        ),
        ('SELECT * FROM U&"\\006Fther".iox.cpu', ["db-1", "mine", "other"]),
    ],
)
def test_databases_read_over_approximates_the_names(sql: str, expected: list[str]) -> None:
    assert databases_read(sql, "mine", {"mine", "other", "db-1"}) == expected
    assert databases_read(sql, None, {"mine", "other", "db-1"}) == ["db-1", "mine", "other"]


def test_a_write_to_one_table_keeps_the_plans_over_the_other_tables(app: App) -> None:
    query = app.query
    _write(app, "mine", "mem")
    query.execute("mine", SQL).read_all()
    key = query._statement_key("mine", SQL, ())[0]
    plan = query._statements.plan(key, True)
    assert plan is not None
    cpu = query._registry.registered[("mine", "cpu")]

    _write(app, "mine", "mem")  # the same database, another table
    _write(app, "mine", "disk")  # and a new one
    assert query._statement_key("mine", SQL, ())[0] == key
    assert query._statements.plan(key, True) is plan
    assert query._registry.registered[("mine", "cpu")] == cpu

    host = _write(app, "mine")
    assert query._statement_key("mine", SQL, ())[0] != key
    assert host in _hosts_of(app, "mine", SQL)


def test_a_table_named_later_or_made_again_is_seen(app: App) -> None:
    sql = "SELECT host FROM mem"
    with pytest.raises(Exception, match="mem"):
        app.query.execute("mine", sql).read_all()
    host = _write(app, "mine", "mem")
    assert _hosts_of(app, "mine", sql) == {host}
    app.query.execute("mine", sql).read_all()

    # dropped and written again: the buffer's counts start over, its serial does not
    app.catalog.drop_table("mine", "mem", app.wal.last_sequence)
    app.buffers.drop_table("mine", "mem")
    app.query.forget_table("mine", "mem")
    again = _write(app, "mine", "mem")
    assert _hosts_of(app, "mine", sql) == {again}


def test_system_tables_follow_writes_to_every_table(app: App) -> None:
    sql = "SELECT table_name, buffered_rows FROM system.tables ORDER BY table_name"
    before = app.query.execute("mine", sql).read_all().to_pylist()
    _write(app, "mine", "mem")
    after = app.query.execute("mine", sql).read_all().to_pylist()
    assert after == [*before, {"table_name": "mem", "buffered_rows": 1}]
    _write(app, "mine")
    rows = app.query.execute("mine", sql).read_all().to_pylist()
    assert rows[0] == {"table_name": "cpu", "buffered_rows": before[0]["buffered_rows"] + 1}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM cpu", {"cpu"}),
        ('SELECT * FROM "Mem" JOIN cpu USING (host)', {"cpu", "Mem"}),
        ("SELECT * FROM last_cache('disk')", {"disk", "odd name"}),
        ("SELECT * FROM system.tables", None),
        ("SELECT * FROM information_schema.tables", None),
    ],
)
def test_tables_read_over_approximates_the_names(sql: str, expected: set[str] | None) -> None:
    tables = {"cpu", "Mem", "disk", "odd name", "other"}
    found = tables_read(sql, tables)
    assert found == (None if expected is None else expected | {"odd name"})
