"""Natural lastpoint SQL answered from the latest rows gives the plain plan's answer.

Two servers hold the same writes: one with the rewrite (the default), one with
``latest_rows_rewrite=False``. Every statement is checked equal on both, over files and
buffer, after writes, after deletes, across databases and under a token scoped to one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from datafusion import DataFrame

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer, Principal
from flight_iox.auth.tokens import Action, FileTokenStore, Permission, TokenRecord
from flight_iox.config import Settings
from flight_iox.errors import ForbiddenError, QueryError
from flight_iox.query.execution import Query

FILES = "\n".join(
    [
        "cpu,host=a,region=west v=1,w=10 1",
        "cpu,host=a,region=west v=5 3",
        "cpu,host=a,region=east v=2 3",  # ties host=a,region=west at time 3
        "cpu,host=b,region=east v=4,w=13 2",
        "cpu,region=east v=9 1",  # no host
        "cpu,host=c,region=north v=6 8",
    ]
)
BUFFER = "\n".join(
    [
        "cpu,host=b,region=east v=7 9",  # newer than the files
        "cpu,host=c,region=north w=20 8",  # same time as the file's row: fields merge
        "cpu,host=d,region=west v=3 4",  # a new series
        "cpu,host=a,region=west v=0 2",  # older than the file's latest
    ]
)
JOIN = (
    "SELECT c.host, c.region, c.v, c.w, c.time FROM cpu c JOIN "
    "(SELECT host, max(time) AS t FROM cpu GROUP BY host) m "
    "ON c.host = m.host AND c.time = m.t"
)
NATURAL = {
    "distinct on, ties broken": (
        "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC, region"
    ),
    "distinct on every tag": (
        "SELECT DISTINCT ON (host, region) host, region, v, w, time FROM cpu "
        "ORDER BY host, region, time DESC"
    ),
    "row_number per series": (
        "SELECT host, region, v, w, time FROM (SELECT *, row_number() OVER "
        "(PARTITION BY host, region ORDER BY time DESC) AS rn FROM cpu) WHERE rn = 1"
    ),
    "row_number, tag filter": (
        "SELECT host, v, time FROM (SELECT *, row_number() OVER (PARTITION BY region "
        "ORDER BY time DESC, host) AS rn FROM cpu WHERE region <> 'north') WHERE rn = 1"
    ),
    "max(time) join (ties kept)": JOIN,
    "max(time) per host": "SELECT host, max(time) AS t FROM cpu GROUP BY host",
}
NOT_PROVEN = "SELECT DISTINCT ON (host) * FROM cpu WHERE v > 2 ORDER BY host, time DESC, region"


def _build(folder: Path, rewrite: bool) -> App:
    store = FileTokenStore(folder / "tokens.json")
    store.add(TokenRecord("id", "_admin", "h", True))
    settings = Settings(data_dir=folder / "data", wal_fsync=False, latest_rows_rewrite=rewrite)
    return build_app(settings, Authorizer(AuthMode.OFF, store))


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    fast = _build(tmp_path_factory.mktemp("rewrite"), True)
    plain = _build(tmp_path_factory.mktemp("plain"), False)
    yield fast, plain
    fast.close()
    plain.close()


def _write(apps: tuple[App, App], database: str, body: str) -> None:
    for app in apps:
        app.engine.write_line_protocol(database, body.encode(), principal=ANONYMOUS)


def _load(apps: tuple[App, App], database: str) -> None:
    """The files part persisted, the buffer part on top."""
    _write(apps, database, FILES)
    for app in apps:
        app.persister.persist(database)
    _write(apps, database, BUFFER)


def _rows(app: App, database: str, sql: str, principal: Principal = ANONYMOUS) -> list[dict]:
    table = app.sql.scoped(principal).execute(database, sql).read_all()
    return sorted(table.to_pylist(), key=repr)


@pytest.fixture
def rewrites(apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables the rewrite planned over their latest rows, one entry each time."""
    seen: list[str] = []
    latest = apps[0].query._latest
    assert latest is not None
    isolated = latest._isolated

    def counting(database, table, provider):  # type: ignore[no-untyped-def]
        seen.append(f"{database}.{table}")
        return isolated(database, table, provider)

    monkeypatch.setattr(latest, "_isolated", counting)
    return seen


def _same(apps: tuple[App, App], database: str, sql: str) -> list[dict]:
    fast, plain = (_rows(app, database, sql) for app in apps)
    assert fast == plain
    return fast


@pytest.mark.parametrize("sql", NATURAL.values(), ids=NATURAL.keys())
def test_natural_forms_equal_the_plain_plan(
    apps: tuple[App, App], rewrites: list[str], sql: str, request: pytest.FixtureRequest
) -> None:
    database = f"forms_{list(NATURAL.values()).index(sql)}"
    _load(apps, database)
    assert _same(apps, database, sql)
    assert rewrites == [f"{database}.cpu"]
    _write(apps, database, "cpu,host=a,region=west v=11 20\ncpu,host=e,region=west v=1 1")
    _same(apps, database, sql)


def test_the_answer_is_the_lastpoint(apps: tuple[App, App], rewrites: list[str]) -> None:
    _load(apps, "lastpoint")
    got = _same(apps, "lastpoint", NATURAL["distinct on, ties broken"])
    assert [(r["host"], r["region"], r["v"], r["w"]) for r in got] == [
        ("a", "east", 2.0, None),  # tie at time 3: region breaks it
        ("b", "east", 7.0, None),  # the buffer's newer row (no w)
        ("c", "north", 6.0, 20.0),  # same time in file and buffer: fields merged
        ("d", "west", 3.0, None),
        (None, "east", 9.0, None),
    ]
    joined = _same(apps, "lastpoint", JOIN)
    assert sorted((r["host"], r["region"]) for r in joined if r["host"] == "a") == [
        ("a", "east"),
        ("a", "west"),
    ]


def test_a_filter_that_changes_the_latest_row_is_not_rewritten(
    apps: tuple[App, App], rewrites: list[str]
) -> None:
    _load(apps, "unproven")
    assert _same(apps, "unproven", NOT_PROVEN)
    assert rewrites == []


def test_deletes(apps: tuple[App, App], rewrites: list[str]) -> None:
    _load(apps, "deletes")
    sql = NATURAL["row_number per series"]
    _same(apps, "deletes", sql)
    for statement in (
        "DELETE FROM cpu WHERE host = 'b' AND time > '1970-01-01T00:00:00.000000005Z'",  # buffer
        "DELETE FROM cpu WHERE host = 'a' AND region = 'west' AND v = 5",  # files' latest
        "DELETE FROM cpu WHERE host = 'd'",  # a whole series
    ):
        for app in apps:
            app.sql.scoped(ANONYMOUS).execute_update("deletes", statement)
        got = _same(apps, "deletes", sql)
        assert got
    hosts = {(r["host"], r["region"]): r["v"] for r in got}
    assert hosts[("a", "west")] == 0.0 and hosts[("b", "east")] == 4.0
    assert ("d", "west") not in hosts
    assert len(rewrites) == 4


def test_databases_keep_their_own_rows(apps: tuple[App, App], rewrites: list[str]) -> None:
    _load(apps, "first")
    _write(apps, "second", "cpu,host=z,region=south v=42 7")
    sql = NATURAL["distinct on, ties broken"]
    assert [r["host"] for r in _same(apps, "second", sql)] == ["z"]
    assert "z" not in [r["host"] for r in _same(apps, "first", sql)]
    # Naming the other database's table: planned as written (the proof covers the default one).
    other = sql.replace("FROM cpu", "FROM second.iox.cpu")
    assert [r["host"] for r in _same(apps, "first", other)] == ["z"]
    assert rewrites == ["second.cpu", "first.cpu"]


def test_a_token_scoped_to_one_database(apps: tuple[App, App], rewrites: list[str]) -> None:
    _load(apps, "mine")
    _write(apps, "theirs", "cpu,host=secret,region=x v=1 1")
    reader = Principal(
        "t",
        False,
        TokenRecord("id", "t", "h", False, (Permission("mine", frozenset({Action.READ})),)),
    )
    fast, plain = apps
    sql = NATURAL["distinct on, ties broken"]
    assert _rows(fast, "mine", sql, reader) == _rows(plain, "mine", sql, ANONYMOUS)
    assert rewrites == ["mine.cpu"]
    for app in apps:
        with pytest.raises(ForbiddenError):
            _rows(app, "theirs", sql, reader)
        with pytest.raises(QueryError, match="not found"):
            _rows(app, "mine", sql.replace("FROM cpu", "FROM theirs.iox.cpu"), reader)
    assert rewrites == ["mine.cpu"]


def test_a_repeated_statement_is_served_its_kept_answer(
    apps: tuple[App, App], rewrites: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(apps, "repeated")
    runs: list[int] = []
    read_all = Query.read_all

    def counted(self: Query, frame: DataFrame) -> pa.Table:
        runs.append(1)
        return read_all(self, frame)

    monkeypatch.setattr(Query, "read_all", counted)
    sql = NATURAL["distinct on, ties broken"]
    first = _same(apps, "repeated", sql)
    assert len(runs) == 1  # the rewritten plan ran (the plain app streams its plan)
    assert _same(apps, "repeated", sql) == first
    assert len(runs) == 1 and rewrites == ["repeated.cpu"]  # plan and answer reused
    _write(apps, "repeated", "cpu,host=a,region=west v=12 30")
    after = _same(apps, "repeated", sql)
    assert after != first and len(runs) == 2 and rewrites == ["repeated.cpu"] * 2
