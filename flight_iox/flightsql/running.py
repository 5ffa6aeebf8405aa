"""DoGet streams in progress, by caller and ticket, so that ``CancelFlightInfo`` can stop them.

Tickets are stateless (they carry the query), so the same ticket may be running several
times; a cancel stops every run of it by the same caller, and never another caller's. Flags
are held weakly: a stream that ends, however it ends, drops out with its query.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.errors import BadRequestError


def flight_info_tickets(info: bytes) -> list[bytes]:
    """The tickets of a serialized FlightInfo (what CancelFlightInfo and CancelQuery carry)."""
    if not info:
        return []
    try:
        endpoints = flight.FlightInfo.deserialize(info).endpoints
    except (pa.ArrowInvalid, TypeError) as error:
        raise BadRequestError(f"not a serialized FlightInfo: {error}") from None
    return [endpoint.ticket.ticket for endpoint in endpoints]


# Keys of streams dropped before they ran (no ``finish``) are swept once this many are held.
SWEEP_AT = 64


class RunningGets:
    """The cancellation flags of running DoGet streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[tuple[str, bytes], weakref.WeakSet[threading.Event]] = {}

    def start(self, caller: str, ticket: bytes) -> threading.Event:
        """A flag for one DoGet of ``ticket`` by ``caller``; set it to cancel that stream."""
        flag = threading.Event()
        with self._lock:
            if len(self._flags) >= SWEEP_AT:  # streams that ended without finishing
                self._flags = {k: v for k, v in self._flags.items() if len(v)}
            flags = self._flags.get((caller, ticket))
            if flags is None:
                flags = self._flags[caller, ticket] = weakref.WeakSet()
            flags.add(flag)
        return flag

    def finish(self, caller: str, ticket: bytes, flag: threading.Event) -> None:
        """The stream ``flag`` belongs to has ended: it can no longer be cancelled."""
        with self._lock:
            flags = self._flags.get((caller, ticket))
            if flags is not None:
                flags.discard(flag)
                if not flags:
                    del self._flags[caller, ticket]

    def until_done(
        self,
        batches: Iterator[pa.RecordBatch],
        caller: str,
        ticket: bytes,
        flag: threading.Event,
        ended: Callable[[BaseException | None], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """``batches``, then ``finish`` and ``ended`` (with the error, or None), however the
        stream ends: read to the end, failed, or dropped, even before its first batch."""

        def end(error: BaseException | None) -> None:
            self.finish(caller, ticket, flag)
            if ended is not None:
                ended(error)

        return _UntilDone(batches, end)

    def cancel(self, caller: str, tickets: list[bytes]) -> int:
        """Cancel ``caller``'s running streams of ``tickets``; how many there were."""
        with self._lock:
            flags = [f for t in tickets for f in self._flags.get((caller, t), ())]
        for flag in flags:
            flag.set()
        return len(flags)


class _UntilDone:
    """An iterator over a DoGet's batches that calls ``end`` once, however the stream ends.

    A generator's ``finally`` is not enough: pyarrow drops a DoGet's stream unread when its
    client goes right after the schema, and a generator dropped before it started runs no
    code at all, so its query stayed "running" in ``system.queries`` for good.
    """

    __slots__ = ("_batches", "_end")

    def __init__(
        self, batches: Iterator[pa.RecordBatch], end: Callable[[BaseException | None], None]
    ) -> None:
        self._batches = batches
        self._end: Callable[[BaseException | None], None] | None = end

    def __iter__(self) -> _UntilDone:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._batches)
        except StopIteration:
            self._ended(None)
            raise
        except BaseException as error:
            self._ended(error)
            raise

    def __del__(self) -> None:
        self._ended(GeneratorExit())  # dropped before the end: the client stopped reading

    def _ended(self, error: BaseException | None) -> None:
        end, self._end = self._end, None
        if end is not None:
            end(error)
