"""A query node's side of unpersisted rows: ask every live ingest node, per statement.

For each database a statement may read, each live ingest node (``system.nodes``) sends
the tables the statement may read there: their schema, their buffered rows (deduplicated
there) and the file list it had at that instant (``actions.py``). Their schemas are
applied here first, so a table or column not persisted yet resolves; ``query/remote.py``
merges the rows and files. Nothing is cached between statements: the rows a query sees
are the ingest nodes' at the moment it is planned.

A node that does not answer (it died and its heartbeat has not expired yet) is skipped
with a warning: its unpersisted rows are missing from answers until it runs again, and
its persisted ones are read from the files as always. Any other error fails the query.
``missing`` names such nodes, and the dead ones, for the ``X-Iox-Missing-Unpersisted``
header of HTTP query answers.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.cluster.codec import decode_rows
from flight_iox.cluster.node import ClusterNode
from flight_iox.cluster.registry import NodeRecord
from flight_iox.cluster.remote import Peers
from flight_iox.cluster.roles import Roles
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import FlightIoxError
from flight_iox.query.remote import RemoteTable
from flight_iox.query.scan_needs import ScanNeeds

log = logging.getLogger(__name__)


class IngestNodeRows:
    """``query.remote.RemoteTables`` over the live ingest nodes of the registry."""

    def __init__(
        self,
        node: ClusterNode,
        peers: Peers,
        catalog: SchemaCatalog,
        pushdown: bool = True,
        received: Callable[[int], None] | None = None,
    ) -> None:
        """``received`` is told the bytes of every reply (the cluster-rows metric)."""
        self._node = node
        self._peers = peers
        self._catalog = catalog
        self._pushdown = pushdown
        self._received = received
        self._silent: set[str] = set()  # nodes whose failure was logged
        self._lock = threading.Lock()

    def fetch(
        self, database: str, sql: str | None, needs: Mapping[str, ScanNeeds] | None = None
    ) -> dict[str, RemoteTable]:
        """Per table the statement may read: every ingest node's rows and files."""
        if not self._pushdown:
            needs = None
        scans = None if needs is None else {t: n.as_json() for t, n in needs.items()}
        found: dict[str, list[tuple[bool, str, pa.Table, Any]]] = {}
        for record, replies in self._replies(database, sql, scans, schema_only=False):
            for reply in replies:
                table, rows, files, meta = decode_rows(reply)
                owner = bool(meta.get("owner"))
                found.setdefault(table, []).append(
                    (owner, record.node_id, rows, (files, tuple(meta.get("version") or ())))
                )
        result = {}
        for table, parts in found.items():
            parts.sort(key=lambda p: (p[0], p[1]))  # the owner's rows last: they are newest
            self._apply_schema(database, table, [p[2].schema for p in parts])
            asked = None if needs is None else needs.get(table)
            token = (
                tuple(
                    (p[1], p[3][1], tuple(f.path for f in p[3][0]), p[2].num_rows) for p in parts
                ),
                asked,
            )
            result[table] = RemoteTable(
                token, tuple(p[3][0] for p in parts), tuple(p[2] for p in parts)
            )
        return result

    def learn_schemas(self, database: str) -> None:
        """Apply the schemas of every table the ingest nodes hold of ``database``.

        Names are resolved from this node's schema catalog before any statement runs
        (InfluxQL's measurements, Flight SQL's table listings): a table or column written
        but not persisted yet must be known here too. The nodes send schemas only.
        """
        schemas: dict[str, list[pa.Schema]] = {}
        for _, replies in self._replies(database, None, None, schema_only=True):
            for reply in replies:
                table, rows, _, _ = decode_rows(reply)
                schemas.setdefault(table, []).append(rows.schema)
        for table, found in sorted(schemas.items()):
            self._apply_schema(database, table, found)

    def _replies(
        self, database: str, sql: str | None, scans: Any, *, schema_only: bool
    ) -> Iterator[tuple[NodeRecord, list[bytes]]]:
        """Each live ingest node's answer to a rows request; one that does not answer is
        skipped (logged once, and named by ``missing``), any other error raised."""
        for record in self._node.ingest_nodes():
            try:
                replies = self._peers.rows(
                    record.flight_addr, database, sql, scans, schema_only=schema_only
                )
            except (flight.FlightUnavailableError, flight.FlightTimedOutError) as error:
                self._peers.forget(record.flight_addr)
                with self._lock:
                    if record.node_id not in self._silent:
                        self._silent.add(record.node_id)
                        log.warning(
                            "ingest node %s (%s) did not answer; its unpersisted rows are "
                            "missing from answers until it does: %s",
                            record.node_id, record.flight_addr, str(error).splitlines()[0],
                        )  # fmt: skip
                continue
            except flight.FlightError as error:
                raise FlightIoxError(
                    f"ingest node {record.node_id!r} failed to send its unpersisted rows of "
                    f"{database!r}: {str(error).strip().splitlines()[0]}"
                ) from None
            with self._lock:
                self._silent.discard(record.node_id)
            if self._received is not None:
                self._received(sum(len(reply) for reply in replies))
            yield record, replies

    def missing(self) -> list[str]:
        """The ingest nodes whose unpersisted rows answers may lack now: registered but
        dead (killed: their rows wait in their WAL until they restart), or alive and not
        answering at the last fetch."""
        with self._lock:
            silent = set(self._silent)
        dead = {
            n.node_id
            for n in self._node.nodes()
            if not n.alive and n.node_id != self._node.node_id and Roles.parse(n.mode).ingest
        }
        return sorted(silent | dead)

    def _apply_schema(self, database: str, table: str, schemas: list[pa.Schema]) -> None:
        """New databases, tables and columns the ingest nodes know, into the schema catalog."""
        with self._catalog.lock:
            self._catalog.create_database(database, exist_ok=True)
            db = self._catalog.database(database)
            known = db.tables.get(table)
            columns = set(known.columns) if known is not None else set()
            for schema in schemas:
                new = pa.schema([f for f in schema if f.name not in columns])
                if known is None or len(new):
                    self._catalog.apply_replayed_schema(database, table, new)
                    columns |= set(new.names)
                    known = self._catalog.database(database).tables.get(table)


def rows_request(body: bytes) -> tuple[str, str | None, dict[str, ScanNeeds] | None, bool]:
    """The database, statement, per-table needs (None: everything) and whether only the
    schemas are asked for, of a rows request."""
    request = json.loads(body)
    scans = request.get("scans")
    needs = None
    if scans is not None:
        needs = {str(table): ScanNeeds.from_json(body) for table, body in scans.items()}
    return str(request["database"]), request.get("sql"), needs, bool(request.get("schema_only"))
