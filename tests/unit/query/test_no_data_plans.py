"""Statements that read no data are pulled without awaiting (``query/execution.py``).

Only plans whose every node is literal may skip the event loop: a table, a table function,
a subquery inside an expression or a recursive CTE must still be awaited, so that a
cancelled or timed-out query stops between the batches DataFusion yields.
"""

from __future__ import annotations

import pytest
from datafusion import SessionContext

from flight_iox.config import QueryLimits
from flight_iox.errors import QueryCancelledError
from flight_iox.query.execution import QueryRunner, cancellation, reads_no_data

NO_DATA = [
    "SELECT 1",
    "SELECT 1 AS a, 'x' AS b WHERE 1 = 1 ORDER BY a LIMIT 3",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT DISTINCT column1 FROM (VALUES (1), (1), (2)) v",
    "SELECT sum(x) FROM (SELECT 1 AS x)",
    "SELECT 'a\nProjection: b' AS text",
]
READS_DATA = [
    "SELECT * FROM t",
    "SELECT (SELECT count(*) FROM t)",
    "SELECT 1 WHERE 1 IN (SELECT column1 FROM t)",
    "SELECT count(*) FROM generate_series(1, 10)",
    "SELECT unnest([1, 2])",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT row_number() OVER () AS n",
    "SELECT 'Projection: x' AS text FROM t",
]


@pytest.fixture(scope="module")
def context() -> SessionContext:
    context = SessionContext()
    context.sql("CREATE TABLE t AS VALUES (1), (2)").collect()
    return context


@pytest.mark.parametrize("sql", NO_DATA)
def test_literal_plans_read_no_data(context: SessionContext, sql: str) -> None:
    assert reads_no_data(context.sql(sql))


@pytest.mark.parametrize("sql", READS_DATA)
def test_plans_with_a_source_or_a_subquery_read_data(context: SessionContext, sql: str) -> None:
    assert not reads_no_data(context.sql(sql))


@pytest.mark.parametrize("sql", NO_DATA)
def test_pulled_without_awaiting_the_result_is_the_same(context: SessionContext, sql: str) -> None:
    runner = QueryRunner(QueryLimits())
    expected = context.sql(sql).to_arrow_table().to_pylist()
    key = repr  # a union of two partitions comes in either order
    read = runner.start().read_all(context.sql(sql)).to_pylist()
    streamed = runner.start().reader(context.sql(sql)).read_all().to_pylist()
    assert sorted(read, key=key) == sorted(streamed, key=key) == sorted(expected, key=key)
    assert runner.running == 0


def test_a_cancelled_statement_that_reads_no_data_does_not_run(context: SessionContext) -> None:
    runner = QueryRunner(QueryLimits())
    with cancellation(lambda: True):
        query = runner.start()
    with pytest.raises(QueryCancelledError):
        query.read_all(context.sql("SELECT 1"))
    assert runner.running == 0
