"""``latest_table``: which plans read their table only through a latest-row-per-group step."""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext

from flight_iox.query.latest_plan import Table, latest_table

CPU = Table("cpu", ("host", "region", "time", "v"), frozenset({"host", "region"}))
LATEST = (
    "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY host ORDER BY time DESC) AS rn "
    "FROM cpu{where}) t WHERE {outer}"
)
MAX_JOIN = (
    "SELECT c.* FROM cpu c {join} (SELECT host, {agg} AS t FROM {table} GROUP BY host) m ON {on}"
)
PROVEN = {
    "distinct on": "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC",
    "distinct on all tags": (
        "SELECT DISTINCT ON (host, region) host, v FROM cpu WHERE region = 'x' "
        "ORDER BY host, region, time DESC, v"
    ),
    "distinct on, qualified": (
        "SELECT DISTINCT ON (host) * FROM db.iox.cpu ORDER BY host, time DESC"
    ),
    "row_number": LATEST.format(where="", outer="rn = 1") + " ORDER BY host",
    "row_number, 1 = rn and a field": LATEST.format(where="", outer="1 = rn AND v > 1"),
    "row_number, tag filter": LATEST.format(where=" WHERE host IN ('a', 'b')", outer="rn = 1"),
    "row_number over everything": (
        "SELECT * FROM (SELECT *, row_number() OVER (ORDER BY time DESC) AS rn FROM cpu) "
        "WHERE rn = 1"
    ),
    "max join": MAX_JOIN.format(
        join="JOIN", agg="max(time)", table="cpu", on="c.host = m.host AND c.time = m.t"
    ),
    "max join, swapped": MAX_JOIN.format(
        join="JOIN", agg="max(time)", table="cpu", on="m.t = c.time AND m.host = c.host"
    ),
    "a parameter on a tag": (
        "SELECT DISTINCT ON (host) * FROM cpu WHERE host = $1 ORDER BY host, time DESC"
    ),
    "max per tag": "SELECT host, max(time) FROM cpu GROUP BY host",
    "distinct tags": "SELECT DISTINCT host FROM cpu",
}
REFUSED = {
    "ascending": "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time",
    "by a field": "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, v DESC",
    "on a field": "SELECT DISTINCT ON (v) * FROM cpu ORDER BY v, time DESC",
    "field filter first": (
        "SELECT DISTINCT ON (host) * FROM cpu WHERE v > 1 ORDER BY host, time DESC"
    ),
    "time filter first": (
        "SELECT DISTINCT ON (host) * FROM cpu WHERE time < TIMESTAMP '1970-01-01 00:00:01' "
        "ORDER BY host, time DESC"
    ),
    "second row": LATEST.format(where="", outer="rn = 2"),
    "at most first": LATEST.format(where="", outer="rn <= 1"),
    "no rank filter": LATEST.format(where="", outer="v > 0"),
    "window after a field filter": LATEST.format(where=" WHERE v > 1", outer="rn = 1"),
    "rank()": LATEST.replace("row_number()", "rank()").format(where="", outer="rn = 1"),
    "oldest": LATEST.replace("DESC", "ASC").format(where="", outer="rn = 1"),
    "join on another tag": MAX_JOIN.format(
        join="JOIN", agg="max(time)", table="cpu", on="c.region = m.host AND c.time = m.t"
    ),
    "join on time only": MAX_JOIN.format(
        join="JOIN", agg="max(time)", table="cpu", on="c.time = m.t"
    ),
    "left join": MAX_JOIN.format(
        join="LEFT JOIN", agg="max(time)", table="cpu", on="c.host = m.host AND c.time = m.t"
    ),
    "min": MAX_JOIN.format(
        join="JOIN", agg="min(time)", table="cpu", on="c.host = m.host AND c.time = m.t"
    ),
    "max with FILTER": MAX_JOIN.format(
        join="JOIN",
        agg="max(time) FILTER (WHERE v > 1)",
        table="cpu",
        on="c.host = m.host AND c.time = m.t",
    ),
    "another table": MAX_JOIN.format(
        join="JOIN", agg="max(time)", table="mem", on="c.host = m.host AND c.time = m.t"
    ),
    "subquery": (
        "SELECT DISTINCT ON (host) * FROM cpu WHERE host IN (SELECT host FROM cpu WHERE v > 2) "
        "ORDER BY host, time DESC"
    ),
    "distinct fields": "SELECT DISTINCT host, v FROM cpu",
    "a parameter on a field": (
        "SELECT DISTINCT ON (host) * FROM cpu WHERE v > $1 ORDER BY host, time DESC"
    ),
    "plain scan": "SELECT * FROM cpu",
    "count": "SELECT count(*) FROM cpu",
    "latest overall by limit": "SELECT * FROM cpu ORDER BY time DESC LIMIT 1",
}


@pytest.fixture(scope="module")
def context() -> SessionContext:
    context = SessionContext(SessionConfig().with_default_catalog_and_schema("db", "iox"))
    table = pa.table(
        {
            "host": pa.array(["a", "b"]).dictionary_encode(),
            "region": ["x", "y"],
            "time": pa.array([1, 2], pa.timestamp("ns")),
            "v": [1.0, 2.0],
        }
    )
    context.register_record_batches("cpu", [table.to_batches()])
    context.register_record_batches("mem", [table.to_batches()])
    return context


def _resolve(fqn: tuple[str | None, str | None, str]) -> Table | None:
    catalog, schema, name = fqn
    ours = catalog in (None, "db") and schema in (None, "iox") and name == "cpu"
    return CPU if ours else None


@pytest.mark.parametrize("sql", PROVEN.values(), ids=PROVEN.keys())
def test_proven(context: SessionContext, sql: str) -> None:
    assert latest_table(context.sql(sql).logical_plan(), _resolve) == CPU


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_refused(context: SessionContext, sql: str) -> None:
    assert latest_table(context.sql(sql).logical_plan(), _resolve) is None
