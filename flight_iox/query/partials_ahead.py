"""Partials a statement left for later, made on one background thread (``buffer_ladder``).

A statement answered from partials uses only those it finds kept; a buffer segment that
settled since its statement's last run is aggregated within the final aggregate with the
rest, and made here afterwards, so the next run finds it kept (issue 20's soak: the runs at
which a segment settled were most of the tail outside persists). This is a cache's work,
done as ``PartialAggregates.warm`` does a persist's: in a query slot taken only when one is
free (none: skipped, and the next statement asks again), within the query deadline, and a
failure is logged and left to the next statement, which makes the segment itself once its
rest would pass its bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from flight_iox.errors import FlightIoxError
from flight_iox.query.engine_errors import engine_message, is_engine_error
from flight_iox.query.execution import Query

log = logging.getLogger(__name__)
MAX_QUEUED = 4  # jobs waiting; more are dropped (their statements ask again)


class PartialsAhead:
    """One thread, started on first use, running jobs in the order they came."""

    def __init__(self, start: Callable[[], Query | None]) -> None:
        """``start`` admits a query only if a slot is free (``QueryRunner.try_start``)."""
        self._start = start
        self._lock = threading.Lock()
        self._pending: set[Hashable] = set()  # keys of the queued and running jobs
        self._queued = 0
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def submit(self, job: Callable[[Query], None], keys: tuple[Hashable, ...]) -> None:
        """Run ``job`` in a query of its own, later, unless its keys are all being made or
        the queue is full."""
        wanted = set(keys)
        with self._lock:
            if self._closed or wanted <= self._pending or self._queued >= MAX_QUEUED:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="partials-ahead")
            self._pending |= wanted
            self._queued += 1
            self._executor.submit(self._run, job, wanted)

    def wait(self) -> None:
        """Return once the jobs submitted so far have run (tests, benchmarks)."""
        with self._lock:
            executor = self._executor
        if executor is not None:
            done: Future[None] = executor.submit(lambda: None)
            done.result()

    def close(self) -> None:
        """Drop the queued jobs and stop the thread (a running job ends first)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Callable[[Query], None], keys: set[Hashable]) -> None:
        query = None
        try:
            query = self._start()
            if query is None:
                log.debug("partials left for later skipped: no free query slot")
                return
            job(query)
        except Exception as error:  # a failed job is a miss later, never a failed statement
            if not isinstance(error, FlightIoxError) and not is_engine_error(error):
                log.exception("making partials left for later failed (a bug)")
                return
            text = str(error) if isinstance(error, FlightIoxError) else engine_message(error)
            log.warning("making partials left for later failed (a statement will): %s", text)
        finally:
            if query is not None:
                query.close()
            with self._lock:
                self._pending -= keys
                self._queued -= 1
