"""DoGet streams in progress, by caller and ticket, so that ``CancelFlightInfo`` can stop them.

Tickets are stateless (they carry the query), so the same ticket may be running several
times; a cancel stops every run of it by the same caller, and never another caller's. Flags
are held weakly: a stream that ends, however it ends, drops out with its query.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

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
        self, batches: Iterator[pa.RecordBatch], caller: str, ticket: bytes, flag: threading.Event
    ) -> Iterator[pa.RecordBatch]:
        """``batches``, then ``finish`` (however the stream ends)."""
        try:
            yield from batches
        finally:
            self.finish(caller, ticket, flag)

    def cancel(self, caller: str, tickets: list[bytes]) -> int:
        """Cancel ``caller``'s running streams of ``tickets``; how many there were."""
        with self._lock:
            flags = [f for t in tickets for f in self._flags.get((caller, t), ())]
        for flag in flags:
            flag.set()
        return len(flags)
