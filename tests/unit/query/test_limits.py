"""Query bounds in process: expression depth, slots and queue, timeout, cancellation, memory."""

from __future__ import annotations

import threading

import pytest
from datafusion import SessionConfig, SessionContext
from sqlglot.tokens import Tokenizer

from flight_iox.config import MIB, QueryLimits
from flight_iox.errors import (
    ExpressionTooDeepError,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    TooManyQueriesError,
)
from flight_iox.query.execution import QueryRunner, cancellation, runtime_env
from flight_iox.query.limits import check_expression_depth, expression_depth

RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"


def depth(sql: str) -> int:
    return expression_depth(Tokenizer().tokenize(sql))


def test_depth_counts_chains_and_brackets() -> None:
    assert depth("SELECT a FROM t") == 0
    assert depth("SELECT a + b FROM t") == 1
    assert depth("SELECT a + (b * (c - d)) FROM t") == 5
    assert depth("SELECT " + "+".join(["1"] * 40)) == 39


def test_separators_start_new_expressions() -> None:
    wide = "SELECT " + ", ".join(f"a{i} + 1" for i in range(2000)) + " FROM t"
    assert depth(wide) == 1
    many_clauses = "SELECT a + 1 FROM t WHERE b = 1 AND c = 2 GROUP BY d ORDER BY e"
    assert depth(many_clauses) == 3
    case = "SELECT CASE " + " ".join(f"WHEN a = {i} THEN {i}" for i in range(2000)) + " END"
    assert depth(case) == 1


def test_operators_inside_strings_and_comments_do_not_count() -> None:
    sql = "SELECT '" + "+" * 5000 + "' -- " + "+" * 5000 + "\n FROM t"
    check_expression_depth(sql, 10)


@pytest.mark.parametrize("terms", [2_000, 4_000])
def test_the_segfault_expression_is_refused_before_datafusion(terms: int) -> None:
    sql = "SELECT " + "+".join(["1"] * terms)
    with pytest.raises(ExpressionTooDeepError, match="--max-expression-depth"):
        check_expression_depth(sql, 1000)


def test_long_or_chain_under_the_limit_passes() -> None:
    sql = "SELECT * FROM cpu WHERE " + " OR ".join(f"host = 'h{i}'" for i in range(200))
    check_expression_depth(sql, 1000)


def test_untokenizable_sql_falls_back_to_the_upper_bound() -> None:
    with pytest.raises(ExpressionTooDeepError):
        check_expression_depth("SELECT '" + "+1" * 2000, 1000)  # unterminated string


def _runner(**overrides: object) -> QueryRunner:
    limits = {"timeout_seconds": 0.0, "max_concurrent": 0, "spill_dir": None, **overrides}
    return QueryRunner(QueryLimits(**limits))  # type: ignore[arg-type]


def _context(limits: QueryLimits) -> SessionContext:
    return SessionContext(SessionConfig(), runtime_env(limits))


def test_results_stream_through_the_runner() -> None:
    runner = _runner()
    frame = _context(runner.limits).sql("SELECT value FROM generate_series(1, 100000)")
    reader = runner.start().reader(frame)
    assert reader.read_all().num_rows == 100_000
    assert runner.running == 0


def test_empty_result_keeps_its_schema_and_frees_the_slot() -> None:
    runner = _runner(max_concurrent=1)
    frame = _context(runner.limits).sql("SELECT 1 AS one WHERE false")
    table = runner.start().reader(frame).read_all()
    assert table.num_rows == 0 and table.schema.names == ["one"]
    assert runner.running == 0


def test_a_runaway_query_times_out() -> None:
    runner = _runner(timeout_seconds=0.5)
    frame = _context(runner.limits).sql(RUNAWAY)
    with pytest.raises(QueryTimeoutError, match="--query-timeout"):
        runner.start().reader(frame)
    assert runner.running == 0


def test_a_cancelled_query_stops() -> None:
    runner = _runner()
    frame = _context(runner.limits).sql(RUNAWAY)
    gone = threading.Event()
    threading.Timer(0.3, gone.set).start()
    with cancellation(gone.is_set), pytest.raises(QueryCancelledError):
        runner.start().reader(frame)
    assert runner.running == 0


def test_the_memory_bomb_gets_resources_exhausted() -> None:
    runner = _runner(memory_limit=64 * MIB)
    frame = _context(runner.limits).sql(
        "SELECT array_agg(value) FROM generate_series(1, 1000000000)"
    )
    with pytest.raises(QueryMemoryError, match="--query-memory-limit"):
        runner.start().reader(frame).read_all()


def test_queue_full_answers_busy_and_a_freed_slot_admits_the_next() -> None:
    runner = _runner(max_concurrent=1, max_queued=0, timeout_seconds=30.0)
    first = runner.start()
    with pytest.raises(TooManyQueriesError) as caught:
        runner.start()
    assert caught.value.retry_after >= 1
    first.close()
    runner.start().close()


def test_a_queued_query_waits_for_a_slot() -> None:
    runner = _runner(max_concurrent=1, max_queued=1, timeout_seconds=30.0)
    first = runner.start()
    threading.Timer(0.3, first.close).start()
    runner.start().close()  # waited in the queue, then ran
    assert runner.running == 0


def test_waiting_for_a_slot_counts_against_the_timeout() -> None:
    runner = _runner(max_concurrent=1, max_queued=1, timeout_seconds=0.3)
    first = runner.start()
    with pytest.raises(QueryTimeoutError, match="waiting for a query slot"):
        runner.start()
    first.close()
