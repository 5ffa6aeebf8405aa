"""A statement's first batches, computed between GetFlightInfo and DoGet.

Flight SQL clients (plain ADBC, JDBC, this project's driver) call DoGet right after
GetFlightInfo, so the server sits idle for the client's round trip in between and then
does all of the statement's work while the client waits. GetFlightInfo therefore starts
the statement on a worker thread, and the DoGet of its ticket takes over what the
worker read (``bench/query_overhead.py``: the fixed cost of a query, docs/benchmarks.md).

What keeps this safe:

- **The same caller, the same value.** A result is handed only to a DoGet of the very
  ticket (the handle bytes GetFlightInfo returned) by an equal ``Principal`` (same token
  record, same permissions). It ran in that principal's scoped backend, planned from that
  handle: what was authorized is what runs, as without the worker.
- **Bounded memory and slots.** At most ``WORKERS`` statements are ahead at once (more
  GetFlightInfos just run in their DoGet, as before); each reads at most ``AHEAD_BATCHES``
  batches or ``AHEAD_BYTES`` before its DoGet takes the rest of the stream; a result no
  DoGet claims within ``CLAIM_SECONDS`` is dropped, which aborts its query and frees its
  query slot.
- **Cancellation.** While nobody claimed it, the query stops when it expires; once a DoGet
  claims it, it stops when that DoGet's client goes away, as any DoGet's query does.
- **Errors are the DoGet's.** A statement that fails ahead is run again by its DoGet,
  which reports the error to its client as before.

A statement that reads no table (``SELECT 1``, what connection pools validate with) is
run on GetFlightInfo's own thread instead (``run_here``): it computes in one step, and
handing it to a worker cost more than running it (the worker's wake-up and the GIL
changing hands around GetFlightInfo's answer: ``bench/query_overhead.py``,
docs/benchmarks.md). Only a result read whole is kept for the DoGet (it holds no query
slot), at most ``HERE_PENDING`` of them, each dropped ``CLAIM_SECONDS`` after it was made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import FlightIoxError
from flight_iox.query.execution import cancellation, current_cancellation

log = logging.getLogger(__name__)

WORKERS = 4
CLAIM_SECONDS = 2.0
AHEAD_BATCHES = 4
AHEAD_BYTES = 1 << 20
HERE_PENDING = 16

_NEVER: Callable[[], bool] = lambda: False  # noqa: E731
Key = tuple[Principal, bytes]


class _Done:
    """The events of a result ``run_here`` made: complete when kept, and nobody waits for
    its claim (two ``threading.Event`` per query cost a cold GetFlightInfo ~10 µs)."""

    def set(self) -> None:
        """Nothing to wake."""

    def wait(self, timeout: float | None = None) -> bool:
        """Already done."""
        return True


_DONE = _Done()


class _Ahead:
    """One statement running ahead: the batches read so far and the rest of its stream."""

    def __init__(self, on_worker: bool = True) -> None:
        # ready: the worker is done reading ahead (or failed); claimed: a DoGet took it
        self.ready: threading.Event | _Done = threading.Event() if on_worker else _DONE
        self.claimed: threading.Event | _Done = threading.Event() if on_worker else _DONE
        self.expired = False
        self.schema: pa.Schema | None = None  # None: failed, the DoGet runs it itself
        self.batches: list[pa.RecordBatch] = []
        self.rest: pa.RecordBatchReader | None = None
        self.client_gone: Callable[[], bool] = _NEVER  # the claiming DoGet's
        self.made = time.monotonic()

    def is_cancelled(self) -> bool:
        """Expired unclaimed, or the claiming DoGet's client went away."""
        return self.expired or self.client_gone()

    def read_ahead(self, run: Callable[[], pa.RecordBatchReader]) -> None:
        """Start the statement and read its first batches (all of a small result)."""
        try:
            with cancellation(self.is_cancelled):
                reader: pa.RecordBatchReader | None = run()
                assert reader is not None
                schema = reader.schema
                size = 0
                while len(self.batches) < AHEAD_BATCHES and size < AHEAD_BYTES:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        reader = None  # all of it: the query has ended and freed its slot
                        break
                    self.batches.append(batch)
                    size += batch.nbytes
            self.rest = reader
            self.schema = schema
        except FlightIoxError:  # the DoGet runs it again and tells its client
            self.schema = None
        finally:
            self.ready.set()

    def stream(self) -> pa.RecordBatchReader:
        """The batches read ahead, then the rest of the stream."""
        assert self.schema is not None
        return pa.RecordBatchReader.from_batches(self.schema, _chain(self.batches, self.rest))

    def drop(self) -> None:
        """Abort the query (its stream's generator closes, which gives its slot back)."""
        self.expired = True
        if self.rest is not None:
            self.rest.close()
        self.rest = None
        self.batches = []


def _chain(
    batches: list[pa.RecordBatch], rest: pa.RecordBatchReader | None
) -> Iterator[pa.RecordBatch]:
    yield from batches
    if rest is not None:
        yield from rest


class Prefetcher:
    """Statements started by GetFlightInfo, waiting for the DoGet of their ticket."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._ahead: dict[Key, _Ahead] = {}
        self._busy = 0
        self._here: set[Key] = set()  # results ``run_here`` made, not yet claimed
        self._pool: ThreadPoolExecutor | None = None

    def start(
        self, principal: Principal, handle: bytes, run: Callable[[], pa.RecordBatchReader]
    ) -> None:
        """Run ``run`` ahead for the DoGet of ``handle`` by ``principal``, if a worker is free."""
        key = (principal, handle)
        ahead = _Ahead()
        with self._lock:
            if self._busy >= self._workers or key in self._ahead:
                return
            self._busy += 1
            self._ahead[key] = ahead
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, "flight-prefetch")
            pool = self._pool
        pool.submit(self._work, key, ahead, run)

    def run_here(
        self, principal: Principal, handle: bytes, run: Callable[[], pa.RecordBatchReader]
    ) -> None:
        """Run ``run`` now, on this thread, for the DoGet of ``handle`` by ``principal``.

        For a statement that computes in one step; kept only when read whole, else dropped
        (the DoGet runs it again, as any statement not run ahead).
        """
        key = (principal, handle)
        with self._lock:
            self._expire()
            if key in self._ahead or len(self._here) >= HERE_PENDING:
                return
        ahead = _Ahead(on_worker=False)
        ahead.read_ahead(run)  # a bug fails this GetFlightInfo, whose client is told
        if ahead.schema is None or ahead.rest is not None:
            ahead.drop()
            return
        with self._lock:
            if key not in self._ahead:
                self._ahead[key] = ahead
                self._here.add(key)

    def _expire(self) -> None:
        """Forget the results of ``run_here`` no DoGet claimed in time (under the lock)."""
        old = time.monotonic() - CLAIM_SECONDS
        for key in [k for k in self._here if self._ahead[k].made < old]:
            self._here.discard(key)
            del self._ahead[key]

    def claim(self, principal: Principal, handle: bytes) -> pa.RecordBatchReader | None:
        """The stream started ahead for this DoGet, or None (the DoGet runs the statement).

        From here on the query watches the DoGet's cancellation (``current_cancellation``).
        """
        with self._lock:
            ahead = self._ahead.pop((principal, handle), None)
            self._here.discard((principal, handle))
        if ahead is None:
            return None
        ahead.client_gone = current_cancellation()
        ahead.claimed.set()
        ahead.ready.wait()  # the query stops if the client goes: it watches ``client_gone``
        return None if ahead.schema is None else ahead.stream()

    def _work(self, key: Key, ahead: _Ahead, run: Callable[[], pa.RecordBatchReader]) -> None:
        try:
            try:
                ahead.read_ahead(run)
            except Exception:  # a bug: logged here, where no client sees it; the DoGet reruns
                log.exception("running a statement ahead of its DoGet failed")
            if ahead.claimed.wait(CLAIM_SECONDS):
                return
            with self._lock:
                unclaimed = self._ahead.get(key) is ahead
                if unclaimed:
                    del self._ahead[key]
            if unclaimed:
                ahead.drop()
        finally:
            with self._lock:
                self._busy -= 1
