"""This node in the registry: its heartbeat thread, the leases it holds, the nodes it knows.

A lease counts as held here only while this node's own monotonic clock is within
``node_timeout - margin`` of the start of the last heartbeat (or acquisition) that
extended it. The database expires it ``node_timeout`` after that transaction ran, so
this node stops using a lease before another can take it, even when the catalog
database becomes unreachable and renewals fail: a partitioned owner goes quiet first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.cluster.registry import Lease, NodeRecord, NodeRegistry
from flight_iox.cluster.roles import Roles

log = logging.getLogger(__name__)
# The part of --node-timeout kept as a margin: clocks run at slightly different rates.
LEASE_MARGIN = 0.2

NODES_SCHEMA = pa.schema(
    [
        pa.field("node_id", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("http_addr", pa.string(), nullable=False),
        pa.field("flight_addr", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("ms"), nullable=False),
        pa.field("last_heartbeat", pa.timestamp("ms"), nullable=False),
        pa.field("state", pa.string(), nullable=False),
    ]
)


@dataclass
class _Held:
    """A lease this node holds, and until when (monotonic) it may use it."""

    epoch: int
    valid_until: float


class ClusterNode:
    """This node's identity, heartbeat and leases over a ``NodeRegistry``."""

    def __init__(
        self, registry: NodeRegistry, node_id: str, roles: Roles, interval: float, timeout: float
    ) -> None:
        self.registry = registry
        self.node_id = node_id
        self.roles = roles
        self._interval = interval
        self._timeout = timeout
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, str], _Held] = {}
        self._others: dict[tuple[str, str, str], tuple[str, float]] = {}  # owner, until (mono)
        self._nodes: list[NodeRecord] = []
        self._nodes_at = -1.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.version = 0  # moves with every heartbeat: system.nodes is rebuilt

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, http_addr: str, flight_addr: str) -> None:
        """Register with the addresses the servers listen on, then heartbeat in the background."""
        self.registry.register(self.node_id, str(self.roles), http_addr, flight_addr)
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self, deregister: bool = True) -> None:
        """Stop the heartbeat; a clean stop releases the leases and leaves the registry."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if deregister:
            try:
                self.registry.deregister(self.node_id)
            except Exception:
                log.exception("leaving the node registry failed; the entry expires by itself")
        self.registry.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def beat(self) -> bool:
        """One heartbeat: renew this node's row and leases; False if the database failed."""
        started = time.monotonic()
        try:
            self.registry.heartbeat(self.node_id)
        except Exception:
            if not self._failing:
                log.exception("heartbeat failed; leases lapse after --node-timeout")
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat works again")
        self._failing = False
        until = started + self._timeout * (1 - LEASE_MARGIN)
        with self._lock:
            for held in self._held.values():
                held.valid_until = until
        self.version += 1
        return True

    # --- leases ----------------------------------------------------------------------------

    def holds(self, kind: str, database: str, table: str) -> bool:
        """Whether this node may act on the lease now, by its own clock."""
        with self._lock:
            held = self._held.get((kind, database, table))
            return held is not None and time.monotonic() < held.valid_until

    def owner(
        self, kind: str, database: str, table: str, on_gain: Callable[[], None] | None = None
    ) -> str:
        """The node that holds the lease now, taking it when free or expired.

        ``on_gain`` runs when this node takes the lease (first time or taking it over),
        before anyone is told it is the owner: the new owner loads the persisted state
        there. If it raises, the lease is given back.
        """
        key = (kind, database, table)
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
            if held is not None and now < held.valid_until:
                return self.node_id
            other = self._others.get(key)
            if other is not None and now < other[1]:
                return other[0]
        started = time.monotonic()
        lease: Lease = self.registry.acquire(kind, database, table, self.node_id)
        if lease.owner != self.node_id:
            with self._lock:
                self._held.pop(key, None)
                # Asked again after a heartbeat interval: the owner may die meanwhile.
                self._others[key] = (lease.owner, started + self._interval)
            return lease.owner
        gained = held is None or held.epoch != lease.epoch
        if gained and on_gain is not None:
            try:
                on_gain()
            except BaseException:
                self.registry.release(kind, database, table, self.node_id)
                raise
            if lease.taken_from is not None:
                log.info("took over %s lease of %s.%s from %s", kind, database, table,
                         lease.taken_from)  # fmt: skip
        with self._lock:
            self._held[key] = _Held(lease.epoch, started + self._timeout * (1 - LEASE_MARGIN))
            self._others.pop(key, None)
        return self.node_id

    def release(self, kind: str, database: str, table: str) -> None:
        """Give a lease back."""
        with self._lock:
            self._held.pop((kind, database, table), None)
        self.registry.release(kind, database, table, self.node_id)

    # --- other nodes -----------------------------------------------------------------------

    def nodes(self, max_age: float | None = None) -> list[NodeRecord]:
        """The registered nodes, read again when older than ``max_age`` (one interval)."""
        age = self._interval if max_age is None else max_age
        now = time.monotonic()
        with self._lock:
            if now - self._nodes_at <= age:
                return list(self._nodes)
        nodes = self.registry.nodes()
        with self._lock:
            self._nodes, self._nodes_at = nodes, now
        return nodes

    def node(self, node_id: str) -> NodeRecord | None:
        """One node's record (read again once if it is not known yet)."""
        for max_age in (None, 0.0):
            for record in self.nodes(max_age):
                if record.node_id == node_id:
                    return record
        return None

    def ingest_nodes(self) -> list[NodeRecord]:
        """The other live nodes that take writes (their buffers hold unpersisted rows)."""
        return [
            n
            for n in self.nodes()
            if n.alive and n.node_id != self.node_id and Roles.parse(n.mode).ingest
        ]

    def nodes_table(self) -> pa.Table:
        """``system.nodes``: every registered node, its addresses, heartbeat and state."""
        nodes = self.nodes(0.0)
        return pa.Table.from_pylist(
            [
                {
                    "node_id": n.node_id,
                    "mode": n.mode,
                    "http_addr": n.http_addr,
                    "flight_addr": n.flight_addr,
                    "started_at": int(n.started_at * 1000),
                    "last_heartbeat": int(n.heartbeat_at * 1000),
                    "state": "alive" if n.alive else "dead",
                }
                for n in nodes
            ],
            schema=NODES_SCHEMA,
        )
