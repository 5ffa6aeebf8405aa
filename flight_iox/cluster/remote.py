"""Node-to-node calls over Flight: forward a write to a table's owner, read unpersisted rows.

Both are Flight actions on the other node's Flight SQL server (``actions.py`` serves
them), authenticated like any client: with ``--cluster-token`` when nodes require
tokens. A node that does not answer within the timeout is an error the caller turns
into a 503 (a write) or skips (rows of a node that died: see docs/cluster.md).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pyarrow.flight as flight

from flight_iox.cluster.codec import encode_batch
from flight_iox.ingest import MeasurementBatch

WRITE_ACTION = "iox.cluster.write"
ROWS_ACTION = "iox.cluster.rows"
# Seconds a node waits for another: a write is fsync'd there, rows are a buffer snapshot.
CALL_TIMEOUT_SECONDS = 30.0


class Peers:
    """One Flight client per other node, reused (gRPC channels multiplex calls)."""

    def __init__(self, token: str | None, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self._options = flight.FlightCallOptions(timeout=timeout, headers=headers)
        self._clients: dict[str, flight.FlightClient] = {}
        self._lock = threading.Lock()

    def _client(self, location: str) -> flight.FlightClient:
        with self._lock:
            client = self._clients.get(location)
            if client is None:
                client = self._clients[location] = flight.FlightClient(location)
            return client

    def forget(self, location: str) -> None:
        """Drop a client whose node went away (a restarted node gets a new channel)."""
        with self._lock:
            client = self._clients.pop(location, None)
        if client is not None:
            client.close()

    def action(self, location: str, name: str, body: bytes) -> list[bytes]:
        """Run one action on the node at ``location``; every result's bytes."""
        results = self._client(location).do_action(flight.Action(name, body), self._options)
        return [result.body.to_pybytes() for result in results]

    def forward(
        self, location: str, database: str, batch: MeasurementBatch, flags: dict[str, Any]
    ) -> tuple[int, list[tuple[int, str]]]:
        """Send one table's batch to its owner: rows it stored, lines it rejected."""
        body = encode_batch(batch, {"database": database, **flags})
        (reply,) = self.action(location, WRITE_ACTION, body)
        answer = json.loads(reply)
        return int(answer["rows"]), [(int(n), str(m)) for n, m in answer["errors"]]

    def rows(
        self,
        location: str,
        database: str,
        sql: str | None,
        scans: Any = None,
        *,
        schema_only: bool = False,
    ) -> list[bytes]:
        """One encoded table (``codec.encode_rows``) per table ``sql`` may read there;
        ``scans``: what to send of each (``query/scan_needs.py``); ``schema_only``: no rows."""
        request = {"database": database, "sql": sql, "scans": scans, "schema_only": schema_only}
        body = json.dumps(request).encode()
        return self.action(location, ROWS_ACTION, body)

    def close(self) -> None:
        """Close every client."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
