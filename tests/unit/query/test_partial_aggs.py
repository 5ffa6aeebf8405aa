"""Aggregates answered from per-file partial aggregates give the plain plan's answer.

Two servers hold the same writes: one with the partial aggregate cache, one with
``aggregate_cache_size=0``. Every statement is checked equal on both (names, types and rows;
float sums and averages to 1e-9 relative, as the order of addition differs) over files only,
buffer only, both, overlapping files, after DELETE, after compaction and after a column is
added; and two principals with different scopes never share a partial.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer, Principal
from flight_iox.auth.tokens import Action, FileTokenStore, Permission, TokenRecord
from flight_iox.config import Settings

MINUTE = 60_000_000_000
BIG = 2**62  # sums of a few wrap around, as DataFusion's integer sums do
TSBS_BIN = "date_bin(INTERVAL '{}', \"time\", TIMESTAMP '1970-01-01 00:00:00')"
TSBS_TIME = (
    "\"time\" >= TIMESTAMP '1970-01-01 00:00:00' AND \"time\" < TIMESTAMP '1970-01-01 12:00:00'"
)

QUERIES = {
    "soak": "SELECT date_bin(interval '1 minute', time) AS w, host, count(*), avg(f) "
    "FROM cpu GROUP BY 1, 2",
    "each aggregate by host": "SELECT host, count(*), count(f), count(i), sum(f), sum(i), "
    "min(f), max(f), min(i), max(i), min(time), max(time), avg(f), avg(i) FROM cpu GROUP BY host",
    "no group": "SELECT count(*), sum(i), avg(f), min(host), max(f) FROM cpu",
    "date_bin with origin": "SELECT date_bin(interval '2 minutes', time, "
    "'1970-01-01T00:00:30Z') AS w, count(i), sum(i) FROM cpu GROUP BY 1",
    "where field": "SELECT host, region, sum(f), avg(i) FROM cpu WHERE f > 0.5 GROUP BY 1, 2",
    "where tag and time": "SELECT host, count(*), max(f) FROM cpu WHERE host IN ('a', 'b') "
    "AND time >= '1970-01-01T00:02:00Z' GROUP BY host",
    "all filtered": "SELECT host, count(*), sum(i), avg(f) FROM cpu WHERE f > 1e9 GROUP BY host",
    "alias and order of output": "SELECT avg(c.f) AS mean, c.host AS h, count(*) AS n "
    "FROM cpu AS c GROUP BY c.host",
    "big integers": "SELECT region, sum(big), min(big), avg(big) FROM cpu GROUP BY region",
    "order by": "SELECT host, sum(f) FROM cpu GROUP BY host ORDER BY host",
    "order by, nulls first, limit": "SELECT date_bin(interval '1 minute', time) AS w, host, "
    "count(*) AS n FROM cpu GROUP BY 1, 2 ORDER BY w DESC, host ASC NULLS FIRST LIMIT 7 OFFSET 2",
    "order by an aggregate": "SELECT host, region, max(time) AS t FROM cpu GROUP BY 1, 2 "
    "ORDER BY t DESC NULLS LAST, host, region",
    # TSBS's SQL (bench/tsbs_queries.py): TIMESTAMP literals are planned as casts of strings.
    "tsbs cpu-max-all": f'SELECT {TSBS_BIN.format("1 minute")} AS "time", max(i) AS max_i, '
    f"max(big) AS max_big FROM cpu WHERE host IN ('a', 'b') AND {TSBS_TIME} GROUP BY 1 ORDER BY 1",
    "tsbs double-groupby": f'SELECT {TSBS_BIN.format("1 hour")} AS "time", host, '
    f"avg(i) AS mean_i, avg(f) AS mean_f FROM cpu WHERE {TSBS_TIME} GROUP BY 1, 2 ORDER BY 2, 1",
    # Not eligible: planned as written (the answer must not change either).
    "having": "SELECT host, count(*) FROM cpu GROUP BY host HAVING count(*) > 3",
    "limit alone": "SELECT host, count(*) FROM cpu GROUP BY host LIMIT 100",
    "order by a computed key": "SELECT host, count(*) FROM cpu GROUP BY host ORDER BY avg(f)",
    "distinct": "SELECT host, count(DISTINCT i) FROM cpu GROUP BY host",
    "now()": "SELECT host, count(*) FROM cpu WHERE time < now() GROUP BY host",
    "expression": "SELECT host, sum(f * 2) FROM cpu GROUP BY host",
}
ELIGIBLE = list(QUERIES)[: list(QUERIES).index("having")]


def _lines(seed: int, count: int, start_minute: int = 0) -> str:
    lines = []
    for n in range(count):
        k = seed * 7919 + n * 104_729
        host = ("a", "b", "c", None)[k % 4]
        tags = f",host={host}" if host else ""
        tags += f",region={('eu', 'us')[(k // 4) % 2]}"
        fields = [f"big={BIG + k % 5}i"]
        if k % 3:
            fields.append(f"f={(k % 1000) / 7:.4f}")
        if k % 5:
            fields.append(f"i={k % 97 - 40}i")
        time = (start_minute * MINUTE) + (k % (6 * MINUTE // 1_000_000_000)) * 1_000_000_000
        lines.append(f"cpu{tags} {','.join(fields)} {time + n}")
    return "\n".join(lines)


def _build(folder: Path, size: int) -> App:
    store = FileTokenStore(folder / "tokens.json")
    store.add(TokenRecord("id", "_admin", "h", True))
    settings = Settings(data_dir=folder / "data", wal_fsync=False, aggregate_cache_size=size)
    app = build_app(settings, Authorizer(AuthMode.OFF, store))
    app.query.partial_aggregates.min_rows = 0  # small tables run as planned otherwise
    return app


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    cached = _build(tmp_path_factory.mktemp("cached"), 64 << 20)
    plain = _build(tmp_path_factory.mktemp("plain"), 0)
    yield cached, plain
    cached.close()
    plain.close()


def _write(apps: tuple[App, App], database: str, body: str, persist: bool = False) -> None:
    for app in apps:
        app.engine.write_line_protocol(database, body.encode(), principal=ANONYMOUS)
        if persist:
            app.persister.persist(database)


def _rows(
    app: App, database: str, sql: str, principal: Principal = ANONYMOUS
) -> tuple[pa.Schema, list[tuple]]:
    table = app.sql.scoped(principal).execute(database, sql).read_all()
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return table.schema, rows if "ORDER BY" in sql else sorted(rows, key=repr)


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _same_everywhere(apps: tuple[App, App], database: str) -> None:
    """Every statement equal on both servers, run twice (the second from kept partials)."""
    cached, plain = apps
    for sql in QUERIES.values():
        want_schema, want = _rows(plain, database, sql)
        for _ in range(2):
            schema, got = _rows(cached, database, sql)
            assert schema == want_schema, sql
            assert len(got) == len(want), sql
            for row, expected in zip(got, want, strict=True):
                assert all(map(_close, row, expected)), (sql, row, expected)


def _counts(app: App) -> tuple[int, int]:
    partials = app.query.partial_aggregates
    return partials.hits, partials.misses


def test_files_and_buffer(apps: tuple[App, App]) -> None:
    _write(apps, "both", _lines(1, 300), persist=True)
    _write(apps, "both", _lines(2, 300, start_minute=10), persist=True)
    _write(apps, "both", _lines(3, 200, start_minute=20))
    before = _counts(apps[0])
    _same_everywhere(apps, "both")
    hits, misses = (now - then for now, then in zip(_counts(apps[0]), before, strict=True))
    assert misses == 2 * len(ELIGIBLE)  # each file aggregated alone once per statement
    assert hits == 2 * len(ELIGIBLE)  # and served kept on the second run


def test_files_whose_partials_are_empty_beside_a_buffer_that_matches(
    apps: tuple[App, App],
) -> None:
    """Kept partials with no rows (every file's rows filtered out) meet the fresh rest's
    partial states in the final aggregate's own plan (``partial_runs.py``)."""
    _write(apps, "empty", _lines(6, 300), persist=True)
    _write(apps, "empty", _lines(7, 300, start_minute=10), persist=True)
    _write(apps, "empty", "cpu,host=z,region=eu f=5000.5,i=1i,big=1i 1\ncpu,host=y f=9000.0 2")
    for sql in (
        "SELECT host, count(*), sum(f), avg(f), max(i) FROM cpu WHERE f > 1000 GROUP BY host",
        "SELECT count(*), sum(f), min(f) FROM cpu WHERE f > 1000",
        "SELECT host, count(*) FROM cpu WHERE f > 100000 GROUP BY host",  # nothing anywhere
    ):
        for _ in range(2):  # partials made, then found kept
            assert _rows(apps[0], "empty", sql) == _rows(apps[1], "empty", sql), sql


@pytest.mark.parametrize("persist", [False, True], ids=["buffer only", "files only"])
def test_buffer_only_and_files_only(apps: tuple[App, App], persist: bool) -> None:
    database = f"only_{persist}"
    _write(apps, database, _lines(4, 300), persist=persist)
    _write(apps, database, _lines(5, 200, start_minute=30), persist=persist)
    _same_everywhere(apps, database)


def test_overlapping_files_are_deduplicated_fresh(apps: tuple[App, App]) -> None:
    _write(apps, "overlap", _lines(6, 300), persist=True)
    _write(apps, "overlap", _lines(7, 100, start_minute=40), persist=True)  # apart
    # The same series and times again with other values: the last write wins.
    again = _lines(6, 150).replace("big=", "f=999.5,big=")
    _write(apps, "overlap", again, persist=True)
    _write(apps, "overlap", _lines(6, 50))  # the buffer overlaps both files too
    _same_everywhere(apps, "overlap")
    rows = _rows(apps[0], "overlap", "SELECT count(*) FROM cpu")[1]
    assert rows == [(400,)]


def test_delete_never_serves_stale_partials(apps: tuple[App, App]) -> None:
    _write(apps, "deletes", _lines(8, 300), persist=True)
    _write(apps, "deletes", _lines(9, 300, start_minute=10), persist=True)
    _write(apps, "deletes", _lines(10, 100, start_minute=20))
    _same_everywhere(apps, "deletes")
    for statement in (
        "DELETE FROM cpu WHERE host = 'a'",
        "DELETE FROM cpu WHERE f > 50 AND time < '1970-01-01T00:12:00Z'",
    ):
        for app in apps:
            app.sql.scoped(ANONYMOUS).execute_update("deletes", statement)
        _same_everywhere(apps, "deletes")
    assert _rows(apps[0], "deletes", "SELECT host, count(*) FROM cpu WHERE host = 'a' "
                 "GROUP BY host")[1] == []  # fmt: skip


def test_compaction(apps: tuple[App, App]) -> None:
    for seed in range(11, 15):
        _write(apps, "compacted", _lines(seed, 150, start_minute=seed), persist=True)
    _same_everywhere(apps, "compacted")
    for app in apps:
        app.persister.compact("compacted")
    _same_everywhere(apps, "compacted")


def test_a_column_added_later(apps: tuple[App, App]) -> None:
    _write(apps, "added", _lines(15, 200), persist=True)
    _same_everywhere(apps, "added")
    _write(apps, "added", "cpu,host=a,region=eu f=1.5,extra=7i 3\ncpu,host=b,region=eu extra=2i 4")
    for app in apps:
        app.persister.persist("added")
    _same_everywhere(apps, "added")
    sql = "SELECT host, sum(extra), count(extra), avg(extra) FROM cpu GROUP BY host"
    assert _rows(apps[0], "added", sql) == _rows(apps[1], "added", sql)


def test_principals_with_different_scopes_never_share_partials(apps: tuple[App, App]) -> None:
    _write(apps, "scoped", _lines(16, 200), persist=True)
    _write(apps, "elsewhere", _lines(17, 10))

    def reader(*databases: str) -> Principal:
        grants = tuple(Permission(db, frozenset({Action.READ})) for db in databases)
        return Principal("t", False, TokenRecord("id", "t", "h", False, grants))

    cached, plain = apps
    sql = QUERIES["soak"]
    want = _rows(plain, "scoped", sql)
    one, two = reader("scoped"), reader("scoped", "elsewhere")
    assert _rows(cached, "scoped", sql, one) == want
    hits, misses = _counts(cached)
    assert _rows(cached, "scoped", sql, two) == want
    assert _counts(cached) == (hits, misses + 1)  # the other scope aggregated the file anew
    assert _rows(cached, "scoped", sql, one) == want
    assert _counts(cached) == (hits + 1, misses + 1)  # its own partial, kept


def test_the_bound_is_kept(tmp_path: Path) -> None:
    app = _build(tmp_path, 4096)
    try:
        for seed in range(20, 26):
            body = _lines(seed, 200, start_minute=seed)
            app.engine.write_line_protocol("small", body.encode(), principal=ANONYMOUS)
            app.persister.persist("small")
        for sql in QUERIES.values():
            app.sql.scoped(ANONYMOUS).execute("small", sql).read_all()
            assert app.query.partial_aggregates.used_bytes <= 4096
    finally:
        app.close()


def test_a_new_file_is_aggregated_before_it_joins_the_table(apps: tuple[App, App]) -> None:
    """A persist or compaction aggregates its files for the statements lately answered."""
    _write(apps, "warm", _lines(30, 200), persist=True)
    sql = QUERIES["soak"]
    _same_everywhere(apps, "warm")  # every eligible statement is now recent
    _write(apps, "warm", _lines(31, 200, start_minute=9), persist=True)
    hits, misses = _counts(apps[0])
    assert _rows(apps[0], "warm", sql) == _rows(apps[1], "warm", sql)
    assert _counts(apps[0]) == (hits + 2, misses)  # both files kept: nothing aggregated now
    for app in apps:
        app.persister.compact("warm")
    hits, misses = _counts(apps[0])
    _same_everywhere(apps, "warm")
    assert _counts(apps[0])[1] == misses  # the compacted files too
