"""InfluxQL checks the caller on every database a statement resolves, before it does anything."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.errors import BadRequestError, ForbiddenError, NotSupportedError
from flight_iox.influxql import ast
from flight_iox.influxql.executor import NOT_EXECUTED, execute
from flight_iox.influxql.parser import parse_one
from flight_iox.influxql.result import StatementResult

DATA = "cpu,host=a usage=1 1000000000"


def principal(name: str, *actions: Action, database: str = "db") -> Principal:
    record = TokenRecord(name, name, "hash", False, (Permission(database, frozenset(actions)),))
    return Principal(name, False, record)


READER = principal("reader", Action.READ)
WRITER = principal("writer", Action.WRITE)
OWNER = principal("owner", Action.READ, Action.WRITE, Action.CREATE, Action.DELETE)


@pytest.fixture(scope="module")
def app(app: App) -> App:
    app.engine.write_line_protocol(
        "other", b'cpu,host=s secret="x" 1000000000', principal=ANONYMOUS
    )
    return app


def run(app: App, who: Principal, text: str, **kw: object) -> list[StatementResult]:
    return app.influxql.run(who, "db", text, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "database", "action"),
    [
        ("SELECT * FROM other..cpu", "other", "read"),
        ('SELECT * FROM "other"."autogen"."cpu"', "other", "read"),
        ("SELECT * FROM other../c.u/", "other", "read"),
        ("SELECT * FROM (SELECT * FROM other..cpu)", "other", "read"),
        ("SELECT * FROM cpu, other..cpu", "other", "read"),
        ('SELECT * INTO "other"..x FROM cpu', "other", "write"),
        ("SELECT * INTO x FROM cpu", "db", "write"),
        ("SHOW MEASUREMENTS ON other", "other", "read"),
        ("SHOW TAG KEYS ON other", "other", "read"),
        ("SHOW SERIES ON other", "other", "read"),
        ("SHOW RETENTION POLICIES ON other", "other", "read"),
        ("SHOW TAG VALUES ON other WITH KEY = host", "other", "read"),
        ("SHOW TAG KEYS FROM other..cpu", "other", "read"),
        ("SHOW FIELD KEYS ON db FROM other..cpu", "other", "read"),
        ("SHOW SERIES EXACT CARDINALITY ON other", "other", "read"),
        ("CREATE DATABASE fresh", "fresh", "create"),
        ("DROP DATABASE other", "other", "delete"),
        ("DROP MEASUREMENT cpu", "db", "delete"),
        ("DROP SERIES FROM other..cpu WHERE host = 's'", "other", "delete"),
        ("DELETE FROM cpu WHERE time > 0", "db", "delete"),
        ("DROP RETENTION POLICY autogen ON other", "other", "delete"),
        (
            "CREATE CONTINUOUS QUERY c ON other BEGIN SELECT mean(usage) INTO m FROM cpu "
            "GROUP BY time(1m) END",
            "other",
            "create",
        ),
        ("DROP CONTINUOUS QUERY c ON other", "other", "delete"),
        ("SELECT * FROM nosuch..cpu", "nosuch", "read"),  # refused before "not found"
    ],
)
def test_reader_is_refused_naming_token_and_database(
    app: App, text: str, database: str, action: str
) -> None:
    (result,) = run(app, READER, text)
    assert isinstance(result.cause, ForbiddenError), result
    assert result.error == f"token 'reader' may not {action} database {database!r}"


@pytest.mark.parametrize(
    "text",
    [
        "SHOW USERS",
        "CREATE USER u WITH PASSWORD 'p'",
        "GRANT ALL TO u",
        # Retention decides what is deleted: as PUT /api/v3/configure/database, admins only.
        "CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1 DEFAULT",
        "ALTER RETENTION POLICY autogen ON db DURATION 1d",
    ],
)
def test_user_statements_need_an_admin(app: App, text: str) -> None:
    (refused,) = run(app, OWNER, text)
    assert isinstance(refused.cause, ForbiddenError)
    assert "not an admin token" in (refused.error or "")


@pytest.mark.parametrize("text", ["CREATE USER u WITH PASSWORD 'p'", "GRANT ALL TO u"])
def test_user_statements_are_not_served(app: App, text: str) -> None:
    (answered,) = run(app, ANONYMOUS, text)
    assert isinstance(answered.cause, NotSupportedError)


def test_show_users_is_an_empty_table(app: App) -> None:
    (answered,) = run(app, ANONYMOUS, "SHOW USERS")
    assert answered.error is None
    (series,) = answered.series
    assert series.columns == ["user", "admin"] and series.data.num_rows == 0


def test_owner_passes_the_checks(app: App) -> None:
    (rows,) = run(app, OWNER, "SELECT usage FROM cpu")
    assert rows.error is None and rows.series[0].data.num_rows == 1


def hosts(app: App, table: str) -> list[str]:
    sql = f"SELECT host FROM {table} ORDER BY host"
    return app.query.execute("db", sql).read_all().column(0).to_pylist()


def test_delete_drop_series_and_drop_measurement_run(app: App) -> None:
    lines = "\n".join(f"{m},host={h} v=1 {t}" for m in ("d1", "d2", "d3") for h in "ab"
                      for t in (1, 2))  # fmt: skip
    app.engine.write_line_protocol("db", lines.encode(), principal=ANONYMOUS)
    results = run(
        app,
        OWNER,
        "DELETE FROM d1 WHERE host = 'a'; DROP SERIES FROM /d2/ WHERE host = 'b'; "
        "DROP MEASUREMENT d3",
    )
    assert [r.error for r in results] == [None, None, None]
    assert hosts(app, "d1") == ["b", "b"]
    assert hosts(app, "d2") == ["a", "a"]
    assert "d3" not in app.query.table_schemas("db")


def test_delete_needs_read_to_resolve_but_drop_measurement_does_not(app: App) -> None:
    app.engine.write_line_protocol("db", b"e1,host=a v=1 1\ne2,host=a v=1 1", principal=ANONYMOUS)
    deleter = principal("deleter", Action.DELETE)
    (refused,) = run(app, deleter, "DELETE FROM e1 WHERE time > 0")
    assert refused.error == "token 'deleter' may not read database 'db'"
    assert hosts(app, "e1") == ["a"]
    (dropped,) = run(app, deleter, "DROP MEASUREMENT e2")
    assert dropped.error is None and "e2" not in app.query.table_schemas("db")


def test_show_databases_lists_only_readable(app: App) -> None:
    def names(who: Principal) -> list[str]:
        (result,) = run(app, who, "SHOW DATABASES")
        return [] if not result.series else result.series[0].data.column(0).to_pylist()

    assert names(READER) == ["db"]
    assert names(WRITER) == []
    assert set(names(ANONYMOUS)) >= {"db", "other"}


def test_into_is_checked_before_the_select_reads(app: App) -> None:
    ctx = app.influxql.context(READER, "db")
    read: list[str] = []
    original = ctx.sql

    def spy(database: str, sql: str) -> pa.Table:
        read.append(database)
        return original(database, sql)

    ctx.sql = spy  # type: ignore[method-assign]
    (result,) = execute('SELECT * INTO "other"..x FROM cpu', ctx)
    assert isinstance(result.cause, ForbiddenError) and read == []


def test_first_error_stops_the_text(app: App) -> None:
    results = run(app, READER, "SELECT * FROM cpu; SELECT * FROM other..cpu; CREATE DATABASE z")
    assert results[0].error is None and results[0].series
    assert isinstance(results[1].cause, ForbiddenError)
    assert results[2].error == NOT_EXECUTED
    assert "z" not in app.query.database_names()


def test_read_only_refuses_changes_before_anything_runs(app: App) -> None:
    with pytest.raises(BadRequestError, match="DROP DATABASE changes data"):
        run(app, ANONYMOUS, "SELECT * FROM cpu; DROP DATABASE other", read_only=True)
    with pytest.raises(BadRequestError, match="SELECT INTO"):
        run(app, ANONYMOUS, "SELECT * INTO y FROM cpu", read_only=True)
    assert "other" in app.query.database_names()
    (shown,) = run(app, ANONYMOUS, "SHOW DATABASES", read_only=True)
    assert shown.error is None


@pytest.mark.parametrize(
    ("text", "statement"),
    [
        (
            "DROP MEASUREMENT other..cpu",
            ast.DeleteStatement("drop measurement", (ast.Measurement("cpu", None, "other", ""),)),
        ),
        ("DELETE FROM cpu", ast.DeleteStatement("delete", (ast.Measurement("cpu"),))),
        ("DROP RETENTION POLICY rp ON d", ast.RetentionPolicyStatement("drop", "rp", "d")),
        (
            "ALTER RETENTION POLICY rp ON d DEFAULT",
            ast.RetentionPolicyStatement("alter", "rp", "d", default=True),
        ),
        ("SHOW USERS", ast.AdminStatement("show users")),
        ("SET PASSWORD FOR u = 'x'", ast.AdminStatement("set password")),
        ("CREATE DATABASE d WITH DURATION 1d", ast.DatabaseStatement("create", "d")),
    ],
)
def test_ddl_parses(text: str, statement: ast.Statement) -> None:
    assert parse_one(text) == statement
