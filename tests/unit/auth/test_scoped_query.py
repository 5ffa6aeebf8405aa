"""``QueryEngine.scoped``: a principal's contexts hold only the databases it may read."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer, Principal
from flight_iox.auth.tokens import Action, FileTokenStore, Permission, TokenRecord
from flight_iox.config import Settings
from flight_iox.errors import DatabaseNotFoundError, ForbiddenError, QueryError
from tests.e2e.auth_matrix import OTHER_IN_SQL, SECRET


def _principal(*permissions: Permission) -> Principal:
    return Principal("t", False, TokenRecord("id", "t", "h", False, permissions))


READER = _principal(Permission("mine", frozenset({Action.READ})))
WRITER = _principal(Permission("mine", frozenset({Action.WRITE})))
EVERYWHERE = _principal(Permission("*", frozenset({Action.READ})))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    folder = tmp_path_factory.mktemp("scoped")
    store = FileTokenStore(folder / "tokens.json")
    store.add(TokenRecord("id", "_admin", "h", True))
    authorizer = Authorizer(AuthMode.OFF, store)
    app = build_app(Settings(data_dir=folder / "data", wal_fsync=False), authorizer)
    app.engine.write_line_protocol("mine", b"cpu,host=a usage=1 1", principal=ANONYMOUS)
    body = f"cpu,host=b usage=2 1\ncpu,host={SECRET} usage=3 2".encode()
    app.engine.write_line_protocol("other", body, principal=ANONYMOUS)
    yield app
    app.close()


def _hosts(reader: pa.RecordBatchReader) -> list[str]:
    return sorted(str(h) for h in reader.read_all().column("host").to_pylist())


@pytest.mark.parametrize("sql", OTHER_IN_SQL.values(), ids=OTHER_IN_SQL.keys())
def test_other_databases_do_not_resolve_in_any_syntax(app: App, sql: str) -> None:
    scoped = app.sql.scoped(READER)
    with pytest.raises(QueryError, match="not found"):
        scoped.execute("mine", sql).read_all()
    with pytest.raises(QueryError, match="not found"):
        scoped.query_schema("mine", sql)
    # The same text runs for an admin (the engine's full contexts).
    app.sql.scoped(ANONYMOUS).execute("mine", sql).read_all()


def test_readable_database_answers_and_plans_are_not_shared(app: App) -> None:
    sql = "SELECT host FROM mine.iox.cpu UNION ALL SELECT host FROM other.iox.cpu"
    assert SECRET in _hosts(app.sql.scoped(ANONYMOUS).execute("mine", sql))
    with pytest.raises(QueryError, match="not found"):  # the admin's plan is not reused
        app.sql.scoped(READER).execute("mine", sql)
    assert _hosts(app.sql.scoped(READER).execute("mine", "SELECT host FROM cpu")) == ["a"]
    assert SECRET in _hosts(app.sql.scoped(EVERYWHERE).execute("mine", sql))


def test_default_database_needs_read(app: App) -> None:
    with pytest.raises(ForbiddenError, match="may not read database 'other'"):
        app.sql.scoped(READER).execute("other", "SELECT 1")
    with pytest.raises(ForbiddenError):  # the same answer whether it exists or not
        app.sql.scoped(READER).execute("nosuch", "SELECT 1")
    with pytest.raises(ForbiddenError):
        app.sql.scoped(WRITER).execute("mine", "SELECT 1")
    with pytest.raises(ForbiddenError):
        app.sql.scoped(READER).table_schemas("other")
    with pytest.raises(DatabaseNotFoundError):
        app.sql.scoped(ANONYMOUS).execute("nosuch", "SELECT 1")


def test_listings_show_only_readable_databases(app: App) -> None:
    scoped = app.sql.scoped(READER)
    assert scoped.database_names() == ["mine"]
    assert app.sql.scoped(WRITER).database_names() == []
    assert app.sql.scoped(ANONYMOUS).database_names() == ["mine", "other"]
    for sql in (
        "SELECT DISTINCT table_catalog FROM information_schema.tables",
        "SELECT DISTINCT table_catalog FROM information_schema.columns",
        "SELECT DISTINCT catalog_name AS table_catalog FROM information_schema.schemata",
        "SHOW TABLES",
    ):
        catalogs = set(scoped.execute("mine", sql).read_all().column(0).to_pylist())
        assert catalogs == {"mine"}, sql
        if sql.startswith("SHOW"):
            continue
        named = f"SELECT * FROM ({sql}) WHERE table_catalog IN ('mine', 'other')"
        catalogs = set(scoped.execute("mine", named).read_all().column(0).to_pylist())
        assert catalogs == {"mine"}, sql  # asking for 'other' explicitly: not readable
        admin = app.sql.scoped(ANONYMOUS).execute("mine", named).read_all()
        assert set(admin.column(0).to_pylist()) == {"mine", "other"}, sql
    with pytest.raises(QueryError, match="not found"):
        scoped.execute(None, "SELECT * FROM other.iox.cpu")


def test_system_tokens_exists_only_for_admins(app: App) -> None:
    names = app.sql.scoped(ANONYMOUS).execute("mine", "SELECT name FROM system.tokens")
    assert names.read_all().column("name").to_pylist() == ["_admin"]
    for principal in (READER, EVERYWHERE):
        scoped = app.sql.scoped(principal)
        for sql in ("SELECT * FROM system.tokens", 'SELECT * FROM "system"./**/"tokens"'):
            with pytest.raises(QueryError, match="not found"):
                scoped.execute("mine", sql)
        tables = scoped.execute("mine", "SELECT table_name FROM information_schema.tables")
        assert "tokens" not in tables.read_all().column(0).to_pylist()
        assert scoped.execute("mine", "SELECT * FROM system.tables").read_all().num_rows == 1


def test_writes_need_write_on_the_database(app: App) -> None:
    with pytest.raises(ForbiddenError, match="may not write database 'other'"):
        app.engine.write_line_protocol("other", b"cpu,host=x usage=9 9", principal=WRITER)
    with pytest.raises(ForbiddenError, match="may not write database 'fresh'"):
        app.engine.write_line_protocol("fresh", b"cpu,host=x usage=9 9", principal=WRITER)
    with pytest.raises(ForbiddenError):
        app.engine.write_line_protocol("mine", b"cpu,host=x usage=9 9", principal=READER)
    assert "fresh" not in app.query.database_names()
    outcome = app.engine.write_line_protocol("mine", b"cpu,host=w usage=9 9", principal=WRITER)
    assert outcome.rows_written == 1
