"""Follow the shared Iceberg catalog: see other servers' commits without a restart.

Servers sharing one catalog (``--catalog-uri postgresql://...``) and one warehouse each
load every table at start (``CatalogMirror.load``); after that, a background thread
(``CatalogFollower``) looks at the catalog every ``catalog_poll_interval_seconds`` and
applies what changed, so a server answers with another's persisted rows at most about
one interval (plus the time to read the changed tables) after they were committed.
Only persisted data is shared: each server's WAL and buffer are its own.

Each tick reads one cheap listing (``IoxCatalog.state``: every table's metadata location
and every database's retention) and compares it with what it last applied; only a table
whose location moved is loaded. What a tick applies:

- a new database, or a changed retention, into the schema catalog;
- a new or changed table: its schema (columns are only ever added) and its file list,
  which replaces the buffer's, so queries merge the other server's files with this
  server's buffered rows;
- a table or database that was in the catalog and is gone: dropped here too, buffered
  rows included, with a WAL tombstone so a restart does not replay them back.

This server's own commits are not re-read: ``IoxCatalog`` remembers the location each of
its commits left, and the persister installed that commit's file list itself. Everything
else is applied under the persister's cycle lock after loading the table inside it, so a
persist, compaction, delete or drop of this server is never overtaken by an older view
of the table, and a table this server dropped is not brought back (the load finds it gone).
A database deleted or given a new retention here is not guarded by that lock: a tick whose
listing was taken before that change here ended (``SchemaCatalog.changed_since``) neither
creates it again nor puts its old retention back; the next tick's listing decides (another
server may have created it anew or changed it since).

If the catalog cannot be read, the tick logs it (once per outage), the server keeps
serving the last state it applied, and the next tick tries again. A table whose metadata
cannot be loaded is logged (once per metadata location) and retried each tick; the other
tables still follow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import LimitExceededError
from flight_iox.ports import QueryCaches
from iox_catalog import StoredTable
from iox_catalog.state import CatalogState

log = logging.getLogger(__name__)


class FollowedCatalog(Protocol):
    """What the mirror reads of the shared catalog (``IoxCatalog``)."""

    def state(self) -> CatalogState: ...

    def load_if_exists(self, database: str, table: str) -> StoredTable | None: ...

    def own_location(self, database: str, table: str) -> str | None: ...


@dataclass
class FollowReport:
    """What one tick applied (names as ``db`` or ``db.table``)."""

    databases: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # tables retried at the next tick


class CatalogMirror:
    """Applies the shared catalog to this server's schema catalog and buffers."""

    def __init__(
        self,
        iceberg: FollowedCatalog,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        writer: str | None = None,
    ):
        """``writer``: a cluster ingest node's id, whose own WAL sequence ``load`` reports."""
        self._iceberg = iceberg
        self._writer = writer
        self._catalog = catalog
        self._buffers = buffers
        self.seen = CatalogState()  # what was last applied: ticks compare against it
        self._unreadable: dict[tuple[str, str], str] = {}  # tables whose load failed, logged

    def load(self) -> dict[tuple[str, str], int]:
        """Apply every database and table (at start); returns each table's persisted sequence."""
        state = self._iceberg.state()
        for database, retention_ns in state.databases.items():
            self._catalog.create_database(database, exist_ok=True).retention_ns = retention_ns
        persisted, locations = {}, {}
        for database, table in state.tables:
            stored = self._iceberg.load_if_exists(database, table)
            if stored is None:
                continue  # dropped since the listing
            self._apply_table(stored)
            persisted[(database, table)] = stored.persisted_through(self._writer)
            locations[(database, table)] = stored.metadata_location
        self.seen = CatalogState(state.databases, locations)
        return persisted

    def follow(
        self, forget: QueryCaches, lock: threading.Lock, wal_sequence: Callable[[], int]
    ) -> FollowReport:
        """Apply what changed in the catalog since the last look (the module docstring says how).

        ``lock`` is the persister's cycle lock; ``wal_sequence`` the WAL's last sequence,
        below which replay must not bring back a table or database dropped elsewhere.
        """
        report = FollowReport()
        listed_at = time.monotonic()
        self._catalog.forget_changes_ended_before(listed_at)
        state = self._iceberg.state()
        databases = dict(self.seen.databases)
        for name, retention_ns in state.databases.items():
            if name in databases and databases[name] == retention_ns:
                continue
            with self._catalog.lock:  # no change here slips between check and apply
                if self._catalog.changed_since(name, listed_at):
                    continue  # deleted or changed here since: not seen, the next tick decides
                created = not self._catalog.has_database(name)
                try:
                    db = self._catalog.create_database(name, exist_ok=True)
                except LimitExceededError as error:  # said once: the name counts as seen
                    log.warning("not following database %r: %s", name, error.message)
                    databases[name] = retention_ns
                    continue
                databases[name] = retention_ns
                if created or db.retention_ns != retention_ns:
                    db.retention_ns = retention_ns
                    report.databases.append(name)
        tables = dict(self.seen.tables)
        for key, location in state.tables.items():
            if tables.get(key) == location:
                continue
            if location != self._iceberg.own_location(*key):
                try:
                    with lock:
                        stored = self._iceberg.load_if_exists(*key)
                        if stored is None:
                            continue  # dropped since the listing: the next tick sees it gone
                        self._apply_table(stored)
                except Exception:  # its metadata unreadable: the other tables still follow
                    self._failed(key, location)
                    report.failed.append(".".join(key))
                    continue  # not seen: retried next tick
                report.tables.append(".".join(key))
            tables[key] = location
        for key in [k for k in tables if k not in state.tables]:
            with lock:
                if self._iceberg.load_if_exists(*key) is None and self._has_table(*key):
                    self._catalog.drop_table(*key, wal_sequence())
                    self._buffers.drop_table(*key)
                    forget.forget_table(*key)
                    report.dropped.append(".".join(key))
            del tables[key]
        for name in [n for n in databases if n not in state.databases]:
            with lock:
                if self._catalog.has_database(name):
                    self._catalog.delete_database(name, wal_sequence())
                    self._buffers.drop_database(name)
                    forget.forget_database(name)
                    report.dropped.append(name)
            del databases[name]
        self.seen = CatalogState(databases, tables)
        return report

    def load_table(self, database: str, table: str, lock: threading.Lock) -> None:
        """Apply one table's persisted state now (a cluster node taking over its writes).

        Under the persister's ``lock``, as the follower applies others' commits.
        """
        with lock:
            stored = self._iceberg.load_if_exists(database, table)
            if stored is not None:
                self._apply_table(stored)

    def _failed(self, key: tuple[str, str], location: str) -> None:
        """Log a table that could not be loaded, once per metadata location."""
        if self._unreadable.get(key) != location:
            self._unreadable[key] = location
            log.exception("following %s.%s failed; it is retried every tick", *key)

    def _apply_table(self, stored: StoredTable) -> None:
        """A table's new columns into the schema catalog and its files into its buffer.

        Only columns this server does not know: one it knows keeps its type here (the
        writes this server validated against it are in its buffer and WAL).
        """
        with self._catalog.lock:
            catalog, database = self._catalog, stored.database
            tables = catalog.database(database).tables if catalog.has_database(database) else {}
            table = tables.get(stored.name)
            known = set(table.columns) if table is not None else set()
            new = pa.schema([f for f in stored.model_schema if f.name not in known])
            if table is None or len(new):
                self._catalog.apply_replayed_schema(stored.database, stored.name, new)
        buffer = self._buffers.table(stored.database, stored.name)
        if buffer.files != stored.files.files:
            buffer.replace_files(stored.files.files)

    def _has_table(self, database: str, table: str) -> bool:
        with self._catalog.lock:
            return (
                self._catalog.has_database(database)
                and table in self._catalog.database(database).tables
            )


class CatalogFollower:
    """Runs ``CatalogMirror.follow`` every ``interval`` seconds on a background thread."""

    def __init__(
        self,
        mirror: CatalogMirror,
        forget: QueryCaches,
        lock: threading.Lock,
        wal_sequence: Callable[[], int],
        interval: float,
    ) -> None:
        self._tick = lambda: mirror.follow(forget, lock, wal_sequence)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Start following (an interval of 0 disables it)."""
        if self._interval > 0:
            self._thread = threading.Thread(target=self._run, name="catalog-follower", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following; returns when the current tick ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def tick(self) -> FollowReport | None:
        """One look at the catalog; None if it failed (logged once per outage)."""
        try:
            report = self._tick()
        except Exception:
            if not self._failing:
                log.exception("following the catalog failed; serving the last state seen")
            self._failing = True
            return None
        if self._failing:
            log.info("following the catalog again")
        self._failing = False
        if report.databases or report.tables or report.dropped:
            log.info("catalog changes applied: databases %s, tables %s, dropped %s",
                     report.databases, report.tables, report.dropped)  # fmt: skip
        return report

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.tick()
