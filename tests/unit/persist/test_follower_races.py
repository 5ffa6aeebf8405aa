"""A table another server creates or drops while a statement over it is being planned here.

A statement's plan is kept by the state of the tables it can read (``statement_cache.py``).
In about one run in fifteen of ``tests/e2e/test_catalog_follow.py``, with planning without
the files on or off, the follower was keyed while its database was followed but the table
not yet, and planned after the table arrived (a second refresh registered it): that plan,
kept under a state without the table, answered again once the table was dropped, with the
rows of the first commit. So a statement's key and its plan come from one refresh, and a
refresh deregisters what the catalog dropped before the dropper's ``forget_table`` comes.

The follower's real tick is driven at the two points where its thread can land: inside the
statement's refresh (from the version a refresh reads of a live system table, read for text
naming ``system``), and between a drop in the catalog and its ``forget_table``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa
import pytest

from flight_iox.app import App
from flight_iox.errors import QueryError
from flight_iox.persist.follower import FollowReport
from flight_iox.query.engine import QueryEngine
from flight_iox.query.system_tables import SystemTable
from tests.unit.persist.test_follower import pair, tick, write

__all__ = ["pair"]  # the fixture, imported for pytest

# The e2e test's statement; and one whose word "system" makes its refresh read the live
# system tables' versions (``reads.reads_system_rows``: a sound over-approximation).
SQL = "SELECT count(*) AS n, sum(v) AS s FROM cpu"
LIVE_SQL = f"{SQL} WHERE host <> 'system'"
NOT_FOUND = re.escape("table 'db.iox.cpu' not found")


def _follow(app: App, query: QueryEngine) -> FollowReport:
    """``app``'s follower tick, telling ``query`` what it drops."""
    return app.mirror.follow(query, app.persister.cycle_lock, lambda: app.wal.last_sequence)


def _commit(app: App, body: str) -> None:
    """``body`` written to ``db`` on ``app`` and persisted: in the shared catalog."""
    write(app, "db", body)
    app.persister.persist()


def _run(query: QueryEngine, sql: str) -> list[dict[str, object]]:
    return query.execute("db", sql).read_all().to_pylist()


def _engine(app: App, probed: bool, live: Callable[[], int] | None = None) -> QueryEngine:
    """A query engine over ``app``'s catalog and buffers, with a live ``system.live``;
    ``probed``: statements the partials answer are planned over the stand-ins first."""
    table = SystemTable(lambda: pa.table({"x": [1]}), version=live)
    query = QueryEngine(app.catalog, app.buffers, system_tables={"live": table})
    if probed:
        query.partial_aggregates.min_rows = 0  # small tables are planned as usual otherwise
    return query


@pytest.mark.parametrize("probed", [False, True])
def test_a_table_followed_while_a_statement_is_keyed_does_not_answer_after_its_drop(
    pair: tuple[App, App], probed: bool
) -> None:
    a, b = pair
    _commit(a, "mem,host=a v=1 1")
    tick(b)  # b follows db, without cpu
    _commit(a, "cpu,host=a v=1 1\ncpu,host=b v=2 2")
    ticks: list[Callable[[], FollowReport]] = []

    def live() -> int:  # read by the statement's refresh, after it read the catalog
        while ticks:
            assert ticks.pop()().tables == ["db.cpu"]
        return 0

    query = _engine(b, probed, live)
    ticks.append(lambda: _follow(b, query))
    with pytest.raises(QueryError, match=NOT_FOUND):  # keyed without cpu: resolved without it
        _run(query, LIVE_SQL)  # was: answered, and its plan kept under that key
    assert _run(query, LIVE_SQL) == [{"n": 2, "s": 3.0}]  # keyed and planned with it
    a.deleter.drop_table("db", "cpu")
    assert _follow(b, query).dropped == ["db.cpu"]
    with pytest.raises(QueryError, match=NOT_FOUND):  # was: that first plan (planned over
        _run(query, LIVE_SQL)  # the files; probed, the partials answered and kept no plan)
    with pytest.raises(QueryError, match=NOT_FOUND):
        query.query_schema("db", LIVE_SQL)


@pytest.mark.parametrize("probed", [False, True])
def test_a_table_dropped_in_the_catalog_does_not_resolve_before_its_forget(
    pair: tuple[App, App], probed: bool
) -> None:
    a, b = pair
    _commit(a, "cpu,host=a v=1 1\ncpu,host=b v=2 2")
    tick(b)
    query = _engine(b, probed)
    assert _run(query, SQL) == [{"n": 2, "s": 3.0}]
    a.deleter.drop_table("db", "cpu")
    # b's tick drops it from b's catalog and buffers; ``query`` is not told yet (as if the
    # follower's thread were between ``SchemaCatalog.drop_table`` and ``forget_table``).
    assert tick(b).dropped == ["db.cpu"]
    with pytest.raises(QueryError, match=NOT_FOUND):  # was: the table as registered (no
        _run(query, SQL)  # row left), or probed, its kept partials (the rows it had)
    query.forget_table("db", "cpu")
    with pytest.raises(QueryError, match=NOT_FOUND):  # was: the plan just made, kept under
        _run(query, SQL)  # a state without cpu
    listing = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'"
    assert _run(query, listing) == []
