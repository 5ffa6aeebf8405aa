"""Follow a table's new rows over Flight, resuming after disconnects and server restarts.

>>> from adbc_driver_flight_iox.subscribe import subscribe
>>> for update in subscribe("grpc://127.0.0.1:8182", "mydb", "cpu",
...                         where="usage > 90", columns=["host", "usage", "time"]):
...     print(update.sequence, update.batch.num_rows)  # doctest: +SKIP

The server tags every message with the WAL sequence it covers through; this helper keeps
the last one and, when the stream ends or the connection drops (a restart, a network
fault), connects again with ``from_sequence = last + 1``, waiting ``reconnect_delay``
seconds and doubling up to ``max_reconnect_delay``. Rows arrive at least once: a write
whose rows were being sent when the connection dropped may come again. Errors that
reconnecting cannot mend (a bad predicate, no permission, a table or a WAL position the
server does not have) are raised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as flight

from adbc_driver_flight_iox._options import Certificates, pem_text

__all__ = ["SubscriptionBatch", "subscribe"]

# Flight errors after which connecting again may work: the server went away or restarts.
_TRANSIENT = (
    flight.FlightUnavailableError,
    flight.FlightTimedOutError,
    flight.FlightCancelledError,
)


@dataclass(frozen=True)
class SubscriptionBatch:
    """New rows, and the WAL sequence through which every write's rows were sent."""

    sequence: int
    batch: pa.RecordBatch


def _ticket(
    database: str,
    table: str,
    columns: Sequence[str] | None,
    where: str | None,
    from_sequence: int | None,
) -> flight.Ticket:
    spec: dict[str, object] = {"database": database, "table": table}
    if columns is not None:
        spec["columns"] = list(columns)
    if where is not None:
        spec["where"] = where
    if from_sequence is not None:
        spec["from_sequence"] = from_sequence
    return flight.Ticket(json.dumps({"subscribe": spec}).encode())


def subscribe(
    uri: str,
    database: str,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    from_sequence: int | None = None,
    token: str | None = None,
    tls_root_certs: Certificates | None = None,
    heartbeats: bool = False,
    reconnect_delay: float = 0.1,
    max_reconnect_delay: float = 5.0,
    max_reconnects: int | None = None,
) -> Iterator[SubscriptionBatch]:
    """Yield the table's new rows as they are written, forever (stop iterating to end).

    ``from_sequence`` starts at that WAL sequence (inclusive; None: the next write).
    ``heartbeats`` also yields the empty batches the server sends to move the position.
    ``max_reconnects`` bounds consecutive failed reconnections (None: no bound).
    """
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    options = flight.FlightCallOptions(headers=headers)
    certificates = pem_text(tls_root_certs).encode() if tls_root_certs is not None else None
    last: int | None = None if from_sequence is None else from_sequence - 1
    delay, failures = reconnect_delay, 0
    while True:
        client = flight.FlightClient(uri, tls_root_certs=certificates)
        try:
            start = None if last is None else last + 1
            reader = client.do_get(_ticket(database, table, columns, where, start), options)
            for chunk in _chunks(reader):
                sequence = json.loads(chunk.app_metadata.to_pybytes())["wal_sequence"]
                last = sequence
                delay, failures = reconnect_delay, 0
                if chunk.data.num_rows or heartbeats:
                    yield SubscriptionBatch(sequence, chunk.data)
        except _TRANSIENT:
            failures += 1
            if max_reconnects is not None and failures > max_reconnects:
                raise
        finally:
            client.close()
        time.sleep(delay)  # the stream ended (the server stops) or dropped: connect again
        delay = min(delay * 2, max_reconnect_delay)


def _chunks(reader: flight.FlightStreamReader) -> Iterator[flight.FlightStreamChunk]:
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            return
        if chunk.app_metadata is not None:
            yield chunk
