"""Nodes, heartbeats and table leases in the catalog database (PostgreSQL, or SQLite alone).

Two tables sit beside PyIceberg's own in the SQL catalog's database:

- ``iox_cluster_nodes``: one row per node (``--node-id``) with its mode, addresses and
  last heartbeat. A node whose heartbeat is older than ``--node-timeout`` is dead.
- ``iox_cluster_leases``: one row per (kind, database, table) with its owner, an expiry
  and an epoch that grows with every change of owner. ``ingest`` leases say which ingest
  node takes a table's writes; ``compact`` leases which compactor works on it.

No consensus of our own: every decision is one short transaction that first writes the
row (``INSERT … ON CONFLICT DO NOTHING``: on SQLite that takes the database's write lock)
then reads it ``FOR UPDATE`` (a PostgreSQL row lock), so two nodes racing for a lease are
serialised by the database, and the loser sees the winner. Times are the database's clock
(``clock_timestamp()`` on PostgreSQL), never a node's, so skew between machines does not
move an expiry; a node counts its own lease as held only until its last successful renewal
plus the timeout, by its own monotonic clock, minus a margin (``heartbeat.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

METADATA = sa.MetaData()
NODES = sa.Table(
    "iox_cluster_nodes",
    METADATA,
    sa.Column("node_id", sa.String(255), primary_key=True),
    sa.Column("mode", sa.String(64), nullable=False),
    sa.Column("http_addr", sa.String(512), nullable=False),
    sa.Column("flight_addr", sa.String(512), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
)
LEASES = sa.Table(
    "iox_cluster_leases",
    METADATA,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("database_name", sa.String(255), primary_key=True),
    sa.Column("table_name", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class NodeRecord:
    """One registered node, as ``system.nodes`` shows it."""

    node_id: str
    mode: str
    http_addr: str
    flight_addr: str
    started_at: float  # seconds since the epoch, the database's clock
    heartbeat_at: float
    alive: bool


@dataclass(frozen=True)
class Lease:
    """Who holds a lease after an attempt to take it, and whether that changed hands."""

    owner: str
    expires_at: float
    epoch: int
    taken_from: str | None  # the previous owner, when this attempt took it over


class NodeRegistry:
    """The registry over one SQLAlchemy engine (the SQL catalog's database)."""

    def __init__(self, uri: str, node_timeout_seconds: float) -> None:
        self._engine = sa.create_engine(uri, pool_pre_ping=True, pool_size=4)
        self._timeout = node_timeout_seconds
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._create_tables()

    def _create_tables(self, attempts: int = 5) -> None:
        """Create the tables once; two nodes starting at once on PostgreSQL may race."""
        for attempt in range(attempts):
            try:
                METADATA.create_all(self._engine, checkfirst=True)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _now(self) -> sa.ColumnElement[float]:
        """The database's clock, in seconds since the epoch (sub-second on both backends)."""
        if self._sqlite:
            return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)")
        return sa.literal_column("extract(epoch from clock_timestamp())::float8")

    def _insert(self) -> Any:
        """The dialect's ``insert`` (both have ``on_conflict_do_*``)."""
        if self._sqlite:
            return sqlite_insert
        return postgresql_insert

    # --- nodes -----------------------------------------------------------------------------

    def register(self, node_id: str, mode: str, http_addr: str, flight_addr: str) -> None:
        """Add this node, or take its row back after a restart (same id: new addresses)."""
        insert = self._insert()
        now = self._now()
        values = {
            "node_id": node_id, "mode": mode, "http_addr": http_addr,
            "flight_addr": flight_addr, "started_at": now, "heartbeat_at": now,
        }  # fmt: skip
        statement = insert(NODES).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[NODES.c.node_id],
            set_={k: v for k, v in values.items() if k != "node_id"},
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def heartbeat(self, node_id: str) -> None:
        """Say this node is alive and extend every lease it holds, in one transaction."""
        now = self._now()
        with self._engine.begin() as connection:
            connection.execute(
                NODES.update().where(NODES.c.node_id == node_id).values(heartbeat_at=now)
            )
            connection.execute(
                LEASES.update()
                .where(LEASES.c.owner == node_id)
                .values(expires_at=now + self._timeout)
            )

    def deregister(self, node_id: str) -> None:
        """A clean stop: drop the node's row and release its leases at once."""
        with self._engine.begin() as connection:
            connection.execute(LEASES.delete().where(LEASES.c.owner == node_id))
            connection.execute(NODES.delete().where(NODES.c.node_id == node_id))

    def nodes(self) -> list[NodeRecord]:
        """Every registered node, alive or dead by its heartbeat, by id."""
        alive = (self._now() - NODES.c.heartbeat_at) <= self._timeout
        query = sa.select(*NODES.c, alive.label("alive")).order_by(NODES.c.node_id)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            NodeRecord(
                node_id=r.node_id,
                mode=r.mode,
                http_addr=r.http_addr,
                flight_addr=r.flight_addr,
                started_at=r.started_at,
                heartbeat_at=r.heartbeat_at,
                alive=bool(r.alive),
            )
            for r in rows
        ]

    # --- leases ----------------------------------------------------------------------------

    def acquire(self, kind: str, database: str, table: str, owner: str) -> Lease:
        """Take the lease if it is free, expired or ours; otherwise say who holds it.

        The write comes first (it takes SQLite's write lock), then the row is read with a
        PostgreSQL row lock, so the decision and the update are one serialised step.
        """
        key = (
            (LEASES.c.kind == kind)
            & (LEASES.c.database_name == database)
            & (LEASES.c.table_name == table)
        )
        now = self._now()
        insert = self._insert()
        fresh = insert(LEASES).values(
            kind=kind, database_name=database, table_name=table, owner=owner,
            expires_at=now + self._timeout, epoch=1,
        )  # fmt: skip
        with self._engine.begin() as connection:
            inserted = (
                connection.execute(fresh.on_conflict_do_nothing().returning(LEASES.c.epoch)).first()
                is not None
            )
            row = connection.execute(
                sa.select(LEASES.c.owner, LEASES.c.expires_at, LEASES.c.epoch, now.label("now"))
                .where(key)
                .with_for_update()
            ).one()
            if inserted or row.owner == owner:
                if not inserted:
                    connection.execute(
                        LEASES.update().where(key).values(expires_at=now + self._timeout)
                    )
                return Lease(owner, row.now + self._timeout, row.epoch, None)
            if row.expires_at >= row.now:
                return Lease(row.owner, row.expires_at, row.epoch, None)
            connection.execute(
                LEASES.update()
                .where(key)
                .values(owner=owner, expires_at=now + self._timeout, epoch=row.epoch + 1)
            )
            return Lease(owner, row.now + self._timeout, row.epoch + 1, row.owner)

    def release(self, kind: str, database: str, table: str, owner: str) -> None:
        """Give a lease back (only if still ours)."""
        with self._engine.begin() as connection:
            connection.execute(
                LEASES.delete().where(
                    (LEASES.c.kind == kind)
                    & (LEASES.c.database_name == database)
                    & (LEASES.c.table_name == table)
                    & (LEASES.c.owner == owner)
                )
            )

    def leases(self, kind: str) -> dict[tuple[str, str], str]:
        """The current (unexpired) holder of each lease of ``kind``."""
        query = sa.select(LEASES.c.database_name, LEASES.c.table_name, LEASES.c.owner).where(
            (LEASES.c.kind == kind) & (LEASES.c.expires_at >= self._now())
        )
        with self._engine.connect() as connection:
            return {(r[0], r[1]): r[2] for r in connection.execute(query)}

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()
