"""The Flight actions one node serves to the others (``remote.py`` is the client).

- ``iox.cluster.write``: a write another ingest node forwarded (``ownership.py``); it
  goes through this node's one write path, as the caller's token allows, and the answer
  lists the rejected lines by the client's line numbers.
- ``iox.cluster.rows``: for a database and a statement, each table it may read with this
  node's unpersisted rows and file list, taken at one instant (``remote_rows.py``); of
  the tables the request says what the statement needs, only the columns and rows it
  may use (``query/scan_needs.py``).

Both check the calling token like every other call: ``write`` on the database to write,
``read`` to read the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.cluster.codec import decode_batch, encode_rows
from flight_iox.cluster.node import ClusterNode
from flight_iox.cluster.ownership import INGEST_LEASE, TableOwnership
from flight_iox.cluster.remote import ROWS_ACTION, WRITE_ACTION
from flight_iox.cluster.remote_rows import rows_request
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.engine.engine import Engine
from flight_iox.errors import LineProtocolError
from flight_iox.query.reads import tables_read

# (principal, body) -> result bodies: what the Flight server's ``extra_actions`` take.
NodeAction = Callable[[Principal, bytes], Iterable[bytes]]
DESCRIPTIONS = {
    WRITE_ACTION: "A write forwarded by another ingest node to this table owner.",
    ROWS_ACTION: "This node's unpersisted rows of the tables a statement may read.",
}


class NodeActions:
    """What other nodes call on this one."""

    def __init__(
        self,
        engine: Engine,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        node: ClusterNode,
        ownership: TableOwnership,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._buffers = buffers
        self._node = node
        self._ownership = ownership

    def handlers(self) -> dict[str, NodeAction]:
        """The actions by name."""
        return {WRITE_ACTION: self.write, ROWS_ACTION: self.rows}

    def write(self, principal: Principal, body: bytes) -> list[bytes]:
        """Store a forwarded batch; ``{"rows": n, "errors": [[line, message], …]}``."""
        batch, meta = decode_batch(body)
        try:
            with self._ownership.forwarded():
                outcome = self._engine.write_batches(
                    meta["database"], [batch], principal=principal,
                    accept_partial=bool(meta["accept_partial"]), no_sync=bool(meta["no_sync"]),
                )  # fmt: skip
            rows, errors = outcome.rows_written, outcome.errors
        except LineProtocolError as error:  # all or nothing, and a line was rejected
            rows, errors = 0, error.line_errors
        answer = {"rows": rows, "errors": [[e.line_number, e.message] for e in errors]}
        return [json.dumps(answer).encode()]

    def rows(self, principal: Principal, body: bytes) -> Iterator[bytes]:
        """Each table ``sql`` may read: its buffered rows and files, as one snapshot."""
        database, sql, needs, schema_only = rows_request(body)
        Authorizer.require(principal, Action.READ, database)
        with self._catalog.lock:
            if not self._catalog.has_database(database):
                return
            tables = self._catalog.database(database).tables
            read = None if sql is None else tables_read(sql, tables)
            schemas = {
                name: table.arrow_schema()
                for name, table in tables.items()
                if read is None or name in read
            }
        for name, schema in sorted(schemas.items()):
            if schema_only:
                yield encode_rows(name, schema.empty_table(), (), {})
                continue
            version = self._buffers.version(database, name)
            snapshot = self._buffers.snapshot(database, name, schema)
            owner = self._node.holds(INGEST_LEASE, database, name)
            extra = {"owner": owner, "version": [self._node.node_id, *version]}
            rows = snapshot.buffered
            if needs is not None and name in needs:
                rows = needs[name].apply(rows)
            yield encode_rows(name, rows, snapshot.files, extra)
