"""The background thread that makes the partials a statement left for later."""

from __future__ import annotations

import threading

from flight_iox.config import QueryLimits
from flight_iox.errors import QueryError
from flight_iox.query.execution import Query, QueryRunner
from flight_iox.query.partials_ahead import MAX_QUEUED, PartialsAhead


def test_jobs_run_in_order_in_a_query_of_their_own_which_is_closed() -> None:
    runner = QueryRunner(QueryLimits(max_concurrent=2))
    ahead = PartialsAhead(runner.try_start)
    ran: list[tuple[int, int]] = []
    for n in range(3):
        ahead.submit(lambda query, n=n: ran.append((n, runner.running)), (("key", n),))
    ahead.wait()
    assert ran == [(0, 1), (1, 1), (2, 1)]  # each held a slot while it ran
    assert runner.running == 0
    ahead.close()


def test_no_free_slot_skips_the_job() -> None:
    runner = QueryRunner(QueryLimits(max_concurrent=1))
    held = runner.start()  # the only slot
    ahead = PartialsAhead(runner.try_start)
    ran: list[Query] = []
    ahead.submit(ran.append, ("key",))
    ahead.wait()
    assert ran == []
    held.close()
    ahead.submit(ran.append, ("key",))  # asked again by the next statement: it runs
    ahead.wait()
    assert len(ran) == 1
    ahead.close()


def test_keys_being_made_are_not_queued_twice_and_the_queue_is_bounded() -> None:
    runner = QueryRunner(QueryLimits(max_concurrent=4))
    ahead = PartialsAhead(runner.try_start)
    gate, ran = threading.Event(), []
    ahead.submit(lambda query: gate.wait(5), ("first",))
    for n in range(MAX_QUEUED + 3):
        ahead.submit(lambda query, n=n: ran.append(n), (("key", n % (MAX_QUEUED + 1)),))
    ahead.submit(lambda query: ran.append("again"), (("key", 0),))  # queued already
    gate.set()
    ahead.wait()
    assert ran == list(range(MAX_QUEUED - 1))  # the waiting one counted: the rest dropped
    ahead.close()


def test_a_failing_job_is_logged_and_the_next_one_runs() -> None:
    runner = QueryRunner(QueryLimits(max_concurrent=2))
    ahead = PartialsAhead(runner.try_start)
    ran: list[str] = []

    def refused(query: Query) -> None:
        raise QueryError("resources exhausted")

    ahead.submit(refused, ("a",))
    ahead.submit(lambda query: ran.append("b"), ("b",))
    ahead.wait()
    assert ran == ["b"] and runner.running == 0
    ahead.close()
    ahead.submit(lambda query: ran.append("closed"), ("c",))  # after close: dropped
    assert ran == ["b"]
