"""Running a planned query within its bounds: a slot, a deadline, memory, and cancellation.

Why the stream is pulled through asyncio: DataFusion's synchronous ``next()`` on a stream
blocks in Rust until the next batch exists, and nothing in Python can interrupt it from
another thread (datafusion-python checks for signals, which only the main thread gets). A
hash aggregation produces its first batch only when all its input is read, so a runaway
query would hold its thread, its CPU and its memory to the end. The asynchronous
``__anext__`` instead returns an asyncio future that pyo3 drops, Rust future and all, when
it is cancelled; dropping the stream then aborts the tasks DataFusion spawned. Measured:
a ``sum`` over 2e10 generated rows cancelled after 2 s used 1 ms of CPU in the 3 s after.

So every batch is awaited on an event loop: the calling thread's own (an HTTP worker, a
Flight DoGet thread: one loop each, made on first use), or a shared loop thread when the
caller already runs a loop. The caller waits in short slices and checks its deadline and
whether its client went away (``cancellation``) between slices.

The price: each awaited batch costs thread hops a blocking ``next()`` does not (about
+0.4-0.6 ms on ``SELECT 1``, ``bench/query_bounds.py``; a 153-batch scan was 0.6x).

A statement that reads no data (``reads_no_data``: ``SELECT 1``, the validation query of
connection pools), a few rows through a kept safe plan (``kept_plans.py``), or a final
aggregate over a few partial states in memory (``partial_runs.py``) is pulled
instead, blocking, on the calling thread, with no hop to tokio's threads: nothing in it
waits, and its work is bounded. The bounds are still checked before it starts and between
its batches (``bench/query_overhead.py``: docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import pyarrow as pa
from datafusion import DataFrame
from datafusion.record_batch import RecordBatchStream

from flight_iox.config import MIB, QueryLimits
from flight_iox.errors import (
    FlightIoxError,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    TooManyQueriesError,
    query_error,
)
from flight_iox.query import kept_plans
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.runtime import clear_spill_dir as clear_spill_dir
from flight_iox.query.runtime import runtime_env as runtime_env

POLL_SECONDS = 0.2  # how often a waiting query looks at its deadline and its client
_NEVER_CANCELLED: Callable[[], bool] = lambda: False  # noqa: E731
_CANCELLED: ContextVar[Callable[[], bool]] = ContextVar("query_cancelled", default=_NEVER_CANCELLED)


@contextmanager
def cancellation(is_cancelled: Callable[[], bool]) -> Iterator[None]:
    """Queries started in this block stop when ``is_cancelled()`` turns true.

    Transports call this with their notion of "the client is gone": a Flight call's
    ``context.is_cancelled``, an HTTP request's disconnect flag.
    """
    token = _CANCELLED.set(is_cancelled)
    try:
        yield
    finally:
        _CANCELLED.reset(token)


def current_cancellation() -> Callable[[], bool]:
    """The ``is_cancelled`` of the enclosing ``cancellation`` block (never, outside one).

    For work started elsewhere that this caller takes over (``flightsql/prefetch.py``).
    """
    return _CANCELLED.get()


class QueryRunner:
    """Admits queries (at most ``max_concurrent`` run, ``max_queued`` wait) and streams them."""

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits
        self._slots = threading.Condition()
        self._running = 0
        self._waiting = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="query-streams", daemon=True
        )
        self._thread.start()

    def start(self) -> Query:
        """Admit a query now, or after a wait in the queue, with the caller's cancellation."""
        is_cancelled, timeout = _CANCELLED.get(), self.limits.timeout_seconds
        deadline = time.monotonic() + timeout if timeout > 0 else None
        self._acquire(deadline, is_cancelled)
        return Query(self, deadline, is_cancelled)

    def try_start(self) -> Query | None:
        """A query admitted now, or None when every slot is taken: never waits (for work
        that is only worth doing when the server is idle enough, ``partial_aggs.warm``)."""
        with self._slots:
            if 0 < self.limits.max_concurrent <= self._running:
                return None
            self._running += 1
        timeout = self.limits.timeout_seconds
        return Query(self, time.monotonic() + timeout if timeout > 0 else None, _CANCELLED.get())

    @property
    def running(self) -> int:
        """How many queries hold a slot."""
        return self._running

    @property
    def waiting(self) -> int:
        """How many queries wait in the queue for a slot (``--max-queued-queries`` at most)."""
        return self._waiting

    def _acquire(self, deadline: float | None, is_cancelled: Callable[[], bool]) -> None:
        limit = self.limits.max_concurrent
        with self._slots:
            if limit <= 0 or self._running < limit:
                self._running += 1
                return
            if self._waiting >= self.limits.max_queued:
                raise TooManyQueriesError(
                    f"too many queries: {limit} running and {self._waiting} waiting "
                    "(--max-concurrent-queries, --max-queued-queries); retry later"
                )
            self._waiting += 1
            try:
                while self._running >= limit:
                    if is_cancelled():
                        raise QueryCancelledError("query cancelled while waiting for a slot")
                    wait = POLL_SECONDS
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            raise _timeout(self.limits, "waiting for a query slot")
                    self._slots.wait(wait)
                self._running += 1
            finally:
                self._waiting -= 1

    def _release(self) -> None:
        with self._slots:
            self._running -= 1
            self._slots.notify()

    def _submit(self, stream: RecordBatchStream) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(_next_batch(stream), self._loop)


class Query:
    """One admitted query: it holds a slot until its stream ends, fails or is dropped."""

    def __init__(
        self, runner: QueryRunner, deadline: float | None, is_cancelled: Callable[[], bool]
    ) -> None:
        self._runner = runner
        self._deadline = deadline
        self._is_cancelled = is_cancelled
        self._stream: RecordBatchStream | None = None
        self._open = True

    def reader(self, frame: DataFrame, reused: bool = False) -> pa.RecordBatchReader:
        """Stream ``frame``'s result; the query ends when the reader is exhausted or dropped.

        The first batch is computed here, so that its schema is the stream's (and errors
        in planning or early execution surface before a transport answers). ``reused``:
        the statement cache runs ``frame`` again, so a safe physical plan of it is kept
        (``kept_plans.py``).
        """
        batches = self._batches(frame, reused)
        try:
            first = next(batches)
        except StopIteration:
            return frame.schema().empty_table().to_reader()
        return pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))

    def read_all(self, frame: DataFrame, keep: bool = False, here: bool = False) -> pa.Table:
        """Run ``frame`` to the end within the bounds (for results post-processed whole);
        ``keep``: the query stays open (its slot held) for the statement's next plan;
        ``here``: a plan over a few rows already in memory, collected on this thread as a
        statement that reads no data is (bounded work, nothing that waits)."""
        batches = list(self._batches(frame, keep=keep, here=here))
        return pa.Table.from_batches(batches, schema=None if batches else frame.schema())

    def close(self) -> None:
        """Give the slot back and drop the DataFusion stream (which aborts its tasks)."""
        if self._open:
            self._open = False
            self._stream = None
            self._runner._release()

    def __del__(self) -> None:
        self.close()

    def _batches(
        self, frame: DataFrame, reused: bool = False, keep: bool = False, here: bool = False
    ) -> Iterator[pa.RecordBatch]:
        if not self._open:  # its slot went back: a statement runs all its plans within one
            raise RuntimeError("a plan run on a closed query")
        try:
            self._check()
            no_data = here or reads_no_data(frame)
            kept = kept_plans.kept_stream(frame, reused)
            if kept is not None and (no_data or kept_plans.is_small(frame)):
                # A safe plan over literal rows or a few rows (``kept_plans.small``): it
                # never waits and does bounded work, so it is pulled on this thread.
                for index, pulled in enumerate(kept):
                    if index:
                        self._check()
                    yield pulled.to_pyarrow()
                return
            if no_data:  # collected on this thread: no hop, nothing to wait for
                for index, collected in enumerate(frame.collect()):
                    if index:
                        self._check()
                    yield collected
                return
            self._stream = kept if kept is not None else frame.execute_stream()
            while True:
                batch = self._next()
                if batch is None:
                    return
                yield batch
        except FlightIoxError:
            raise
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise _translate(error, self._runner.limits) from None
        finally:
            if keep:
                self._stream = None
            else:
                self.close()

    def _next(self) -> pa.RecordBatch | None:
        assert self._stream is not None
        loop = _thread_loop()
        if loop is not None:  # one thread hop fewer than through the shared loop
            return self._next_here(loop, self._stream)
        future = self._runner._submit(self._stream)
        while True:
            try:
                return future.result(timeout=self._slice())
            except concurrent.futures.TimeoutError:
                try:
                    self._check()
                except FlightIoxError:
                    future.cancel()  # drops the Rust future; close() then drops the stream
                    raise

    def _next_here(
        self, loop: asyncio.AbstractEventLoop, stream: RecordBatchStream
    ) -> pa.RecordBatch | None:
        """Await the next batch on this thread's loop, looking at the bounds every slice.

        A timer checks the bounds instead of ``asyncio.wait(.., timeout)`` around the batch:
        that wrapped each batch in a second task, a waiter future and a timeout handle, and
        ran the loop twice as often (``bench/query_profile.py``, docs/benchmarks.md).
        """
        task = loop.create_task(_next_batch(stream))
        stop: list[FlightIoxError] = []

        def watch() -> None:
            try:
                self._check()
            except FlightIoxError as error:
                stop.append(error)
                task.cancel()  # drops the Rust future; close() then drops the stream
                return
            timers[0] = loop.call_later(self._slice(), watch)

        timers = [loop.call_later(self._slice(), watch)]
        try:
            return loop.run_until_complete(task)  # until the task ends, cancelled or not
        except asyncio.CancelledError:
            if not stop:
                raise
            raise stop[0] from None
        finally:
            timers[0].cancel()

    def _slice(self) -> float:
        if self._deadline is None:
            return POLL_SECONDS
        return max(0.0, min(POLL_SECONDS, self._deadline - time.monotonic()))

    def _check(self) -> None:
        if self._is_cancelled():
            raise QueryCancelledError("query cancelled: the client went away or cancelled it")
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise _timeout(self._runner.limits, "running")


# Logical plan nodes that read no data: with only these, every batch of a statement comes
# from the literal row of ``EmptyRelation`` or a ``VALUES`` list.
_NO_DATA_NODES = frozenset(
    {"Projection", "EmptyRelation", "Values", "Filter", "Sort", "Limit", "SubqueryAlias"}
    | {"Aggregate", "Distinct", "Union"}
)


_READS_NO_DATA: weakref.WeakKeyDictionary[DataFrame, bool] = weakref.WeakKeyDictionary()
_READS_NO_DATA_LOCK = threading.Lock()


def reads_no_data(frame: DataFrame) -> bool:
    """Whether ``frame``'s plan reads no table, file, table function or subquery.

    The indented display lists every node of the plan, subqueries inside expressions too
    (``Subquery:``), one per line, each line starting with the node's name; a line a
    literal string makes can only add names, never hide a node. Anything else (a
    ``TableScan``, ``Subquery``, ``Unnest``, ``RecursiveQuery``, ``Join``, ``Window``...)
    is awaited as usual. Remembered per frame: a kept plan (``statement_cache.py``) runs
    again, and reading its plan costs 20-50 us in a busy server.
    """
    known = _READS_NO_DATA.get(frame)
    if known is None:
        lines = frame.logical_plan().display_indent().splitlines()
        known = all(line.strip().split(":", 1)[0] in _NO_DATA_NODES for line in lines)
        with _READS_NO_DATA_LOCK:
            _READS_NO_DATA[frame] = known
    return known


class _ThreadLoop:
    """A thread's own event loop, closed when the thread ends and its locals are dropped.

    Each loop holds an epoll descriptor and a socket pair. Request threads come and go
    (server pools, tests' in-process apps): without this, a finished thread's loop kept
    its descriptors until the garbage collector found it, and then warned it was unclosed.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


_THREAD = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop | None:
    """This thread's own event loop, or None in a thread already running one (use the shared)."""
    if asyncio._get_running_loop() is not None:
        return None
    holder = getattr(_THREAD, "holder", None)
    if holder is None:
        holder = _THREAD.holder = _ThreadLoop()
    return holder.loop


async def _next_batch(stream: RecordBatchStream) -> pa.RecordBatch | None:
    # The Rust stream's own awaitable: datafusion's wrapper adds a coroutine per batch.
    raw = getattr(stream, "rbs", stream)
    try:
        batch = await raw.__anext__()
    except StopAsyncIteration:
        return None
    return batch.to_pyarrow()


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _timeout(limits: QueryLimits, doing: str) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"query timed out after {limits.timeout_seconds:g} s {doing} (--query-timeout)"
    )


def _translate(error: Exception, limits: QueryLimits) -> FlightIoxError:
    message = str(error)
    for prefix in ("DataFusion error: ", "External error: "):
        message = message.removeprefix(prefix)
    if "Resources exhausted" in message:
        return QueryMemoryError(
            f"query needs more memory than --query-memory-limit allows "
            f"({limits.memory_limit / MIB:g} MiB per database): {message.strip()}"
        )
    return query_error(message.strip())  # or the lost file it carries (query/tables.py)
