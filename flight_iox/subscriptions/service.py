"""Push subscriptions: CREATE, SHOW and DROP them, and run their delivery cursors.

The definitions live in ``catalog.json`` and the positions in
``<data-dir>/subscriptions/positions.json``; the cursors (``delivery.py``) follow the
write feed. One background thread writes moved positions (every 0.2 s) and keeps the
running cursors equal to the definitions (a database deleted takes its subscriptions).

Permissions: creating, dropping and listing subscriptions need an admin token, as in
InfluxDB 1.x. A subscription sends every write of its database to a URL the server
then calls, so it is both a way to read a whole database and a way to make the server
issue requests (SSRF): neither belongs to a token scoped to one database.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import AlreadyExistsError, NotFoundError
from flight_iox.names import validate_database_name
from flight_iox.ports import WalFeed
from flight_iox.subscriptions.definitions import (
    KIND,
    Mode,
    Subscription,
    check_destinations,
    check_retention_policy,
)
from flight_iox.subscriptions.delivery import Cursor
from flight_iox.subscriptions.positions import PositionStore

log = logging.getLogger(__name__)

SUBSCRIPTIONS_SCHEMA = pa.schema(
    [
        pa.field("database", pa.string(), nullable=False),
        pa.field("retention_policy", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("destination", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("acknowledged", pa.int64(), nullable=False),
        pa.field("lag_entries", pa.int64(), nullable=False),
        pa.field("delivered_writes", pa.int64(), nullable=False),
        pa.field("delivered_bytes", pa.int64(), nullable=False),
        pa.field("failures", pa.int64(), nullable=False),
        pa.field("lost_entries", pa.int64(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("last_error", pa.string()),
        pa.field("last_error_time", pa.timestamp("ms", "UTC")),
        pa.field("last_delivery_time", pa.timestamp("ms", "UTC")),
    ]
)
RECONCILE_SECONDS = 1.0  # how often the running cursors are matched to the definitions
POSITIONS_SECONDS = 0.2  # how often moved positions are written


class SubscriptionService:
    """One server's subscriptions (``InfluxQL`` calls it; ``system.subscriptions`` reads it)."""

    def __init__(self, catalog: SchemaCatalog, feed: WalFeed, data_dir: Path) -> None:
        self._catalog = catalog
        self._feed = feed
        self._positions = PositionStore(data_dir / "subscriptions")
        self._lock = threading.RLock()
        self._cursors: dict[tuple[str, str], list[Cursor]] = {}
        self._running = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._version = 0
        # Hold the WAL for every defined subscription from the start (before the persister
        # runs), so a restart never deletes what a subscription still has to deliver.
        self._reconcile(start=False)

    # --- statements ------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        database: str,
        retention_policy: str | None,
        name: str,
        mode: str,
        destinations: list[str],
    ) -> None:
        """``CREATE SUBSCRIPTION``: admin only; the database must exist."""
        Authorizer.require_admin(principal)
        validate_database_name(database)
        policy = check_retention_policy(retention_policy)
        subscription = Subscription(
            database, name, Mode(mode.upper()), check_destinations(destinations), policy
        )
        with self._lock:
            try:
                self._catalog.add_object(KIND, database, name, subscription.record())
            except AlreadyExistsError:
                raise AlreadyExistsError("subscription already exists") from None
            self._reconcile()

    def drop(
        self, principal: Principal, database: str, retention_policy: str | None, name: str
    ) -> None:
        """``DROP SUBSCRIPTION``: admin only."""
        Authorizer.require_admin(principal)
        validate_database_name(database)
        check_retention_policy(retention_policy)
        with self._lock:
            try:
                self._catalog.remove_object(KIND, database, name)
            except NotFoundError:
                raise NotFoundError("subscription not found") from None
            self._reconcile()

    def definitions(self, principal: Principal) -> list[Subscription]:
        """``SHOW SUBSCRIPTIONS``: admin only; by database and name, passwords masked."""
        Authorizer.require_admin(principal)
        return [s.shown() for s in self._defined()]

    def _defined(self) -> list[Subscription]:
        return [Subscription.from_record(d, n, r) for d, n, r in self._catalog.objects(KIND)]

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering, and the thread that saves positions and follows the definitions."""
        with self._lock:
            self._running = True
            for cursors in self._cursors.values():
                for cursor in cursors:
                    cursor.start()
        self._thread = threading.Thread(target=self._run, name="subscriptions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every cursor and write their positions."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            self._running = False
            for cursors in self._cursors.values():
                for cursor in cursors:
                    cursor.stop()
        self._positions.flush()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(POSITIONS_SECONDS):
            try:
                self._positions.flush_if_due()
                if time.monotonic() - last >= RECONCILE_SECONDS:
                    last = time.monotonic()
                    with self._lock:
                        self._reconcile()
            except Exception:  # a full disk, say: keep delivering; the positions wait
                log.exception("subscriptions: saving positions failed")

    def _reconcile(self, start: bool = True) -> None:
        """Run exactly the cursors of the defined subscriptions (call holding the lock)."""
        wanted = {(s.database, s.name): s for s in self._defined()}
        for key in [k for k in self._cursors if k not in wanted]:
            gone = self._cursors.pop(key)
            for cursor in gone:
                cursor.stop(release=True)
            self._positions.forget([c.key for c in gone])
            self._version += 1
        for key, subscription in wanted.items():
            if key in self._cursors:
                continue
            groups: list[tuple[str, ...]]
            if subscription.mode is Mode.ALL:
                groups = [(d,) for d in subscription.destinations]
            else:
                groups = [subscription.destinations]
            cursors = [Cursor(subscription, g, self._feed, self._positions) for g in groups]
            self._cursors[key] = cursors
            self._version += 1
            if self._running and start:
                for cursor in cursors:
                    cursor.start()

    # --- system.subscriptions --------------------------------------------------------------

    @property
    def version(self) -> int:
        """Moves whenever a row of ``system.subscriptions`` may have changed."""
        with self._lock:
            moving = sum(
                c.stats.delivered_writes + c.stats.failures + c.position
                for cursors in self._cursors.values()
                for c in cursors
            )
        return self._version * 1_000_003 + moving + self._feed.acknowledged

    def table(self) -> pa.Table:
        """One row per cursor: position, lag, deliveries and errors."""
        acknowledged = self._feed.acknowledged
        rows: list[dict[str, object]] = []
        with self._lock:
            cursors = [c for key in sorted(self._cursors) for c in self._cursors[key]]
        for cursor in cursors:
            sub, stats = cursor.subscription, cursor.stats
            rows.append(
                {
                    "database": sub.database,
                    "retention_policy": sub.retention_policy,
                    "name": sub.name,
                    "mode": sub.mode.value,
                    "destination": cursor.shown_destination,
                    "position": cursor.position,
                    "acknowledged": acknowledged,
                    "lag_entries": max(acknowledged - cursor.position, 0),
                    "delivered_writes": stats.delivered_writes,
                    "delivered_bytes": stats.delivered_bytes,
                    "failures": stats.failures,
                    "lost_entries": stats.lost_entries,
                    "state": "retrying" if stats.retrying else "ok",
                    "last_error": stats.last_error,
                    "last_error_time": _millis(stats.last_error_time),
                    "last_delivery_time": _millis(stats.last_delivery_time),
                }
            )
        return pa.Table.from_pylist(rows, schema=SUBSCRIPTIONS_SCHEMA)


def _millis(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)
