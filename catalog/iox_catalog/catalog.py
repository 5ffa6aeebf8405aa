"""The Iceberg catalog of flight-iox: databases are namespaces, tables are Iceberg tables.

Opened with PyIceberg's ``load_catalog``: its SQL catalog by default (SQLite in the data
folder, PostgreSQL to share it), or any other type PyIceberg knows (REST, Glue, Hive, …).
Every commit of data files records the highest WAL sequence it holds in the snapshot
summary (``iox.wal-sequence``), so recovery trusts the catalog.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import pyarrow as pa
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table, Transaction

from iox_catalog import cleanup
from iox_catalog.commit_properties import ensure_commit_properties
from iox_catalog.config import CatalogConfig
from iox_catalog.creation import create_iceberg_table
from iox_catalog.files import (
    NODE_SEQUENCE_PREFIX,
    WAL_SEQUENCE_PROPERTY,
    DataFile,
    StoredTable,
    WrittenFile,
    check_order_kept,
    iceberg_data_file,
    table_files,
)
from iox_catalog.locations import new_table_location, relocation_properties, write_root
from iox_catalog.manifest_entries import ManifestEntries
from iox_catalog.metadata_file import read_metadata
from iox_catalog.opening import open_catalog
from iox_catalog.partition_specs import describe, evolve_spec, parse_partition_by
from iox_catalog.partition_template import DEFAULT_TEMPLATE_PROPERTY, encode_default
from iox_catalog.partitioning import WriteTarget, partitioning_of
from iox_catalog.schema import (
    COLUMNS_PROPERTY,
    column_kinds,
    decode_kinds,
    encode_kinds,
    file_schema,
    model_schema_from_kinds,
)
from iox_catalog.state import RETENTION_PROPERTY, CatalogState, read_state, retention_of
from iox_catalog.storage import is_canonical_location, open_storage
from iox_datamodel.names import validate_database_name, validate_table_name

log = logging.getLogger(__name__)


class IoxCatalog:
    """Databases and tables in Iceberg; thread-safe (one commit at a time per process)."""

    def __init__(self, config: CatalogConfig, writer: str | None = None) -> None:
        """``writer``: a cluster ingest node's id; its commits record its own WAL sequence
        (``iox.wal-sequence.<writer>``, a table property) beside the table's."""
        self.config = config
        self.writer = writer
        self._iceberg = open_catalog(config)
        self._lock = threading.RLock()
        self.storage = open_storage(config.store)
        self._own: dict[tuple[str, str], str] = {}  # metadata location of our last commit
        self._manifests = ManifestEntries()

    # --- what changed ----------------------------------------------------------------------

    def state(self) -> CatalogState:
        """Every database and table now, without reading table metadata (``state.py``)."""
        return read_state(self._iceberg)

    def own_location(self, database: str, table: str) -> str | None:
        """The metadata location our last commit to the table left (None: none yet).

        Waits for a commit of ours in progress: one a listing already showed is then known.
        """
        with self._lock:
            return self._own.get((database, table))

    def _note(self, iceberg: Table, before: str | None = None) -> Table:
        """Remember ``iceberg``'s metadata location as ours: a follower need not read it.

        Only where this server installs what the commit left (a new table, or the file
        list ``_committed`` returns), or, given ``before``, where the table was at our own
        last commit until this one: a commit on top of another server's must be read by
        the follower, or that server's files would never be seen here.
        """
        key = (iceberg.name()[-2], iceberg.name()[-1])
        if before is None or self._own.get(key) == before:
            self._own[key] = iceberg.metadata_location
        return iceberg

    # --- databases -------------------------------------------------------------------------

    def database_names(self) -> list[str]:
        """Every namespace, sorted."""
        return sorted(ns[0] for ns in self._iceberg.list_namespaces())

    def create_database(
        self, name: str, retention_ns: int | None = None, partition_by: Sequence[str] | None = None
    ) -> None:
        """Create the namespace (no error if it exists); ``partition_by``: its tables' default."""
        props = {RETENTION_PROPERTY: str(retention_ns)} if retention_ns else {}
        if partition_by is not None:
            props[DEFAULT_TEMPLATE_PROPERTY] = encode_default(partition_by)
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self._iceberg.create_namespace(name, properties=props)

    def drop_database(self, name: str) -> None:
        """Drop every table of the namespace (and its files), then the namespace."""
        with self._lock:
            try:
                tables = self._iceberg.list_tables(name)
            except NoSuchNamespaceError:
                return
            for identifier in tables:
                cleanup.purge_table(self._iceberg, identifier, self.storage)
            self._iceberg.drop_namespace(name)

    def retention_ns(self, name: str) -> int | None:
        """The database's retention period in nanoseconds (None: keep forever)."""
        return retention_of(self._iceberg.load_namespace_properties(name))

    def set_retention_ns(self, name: str, retention_ns: int | None) -> None:
        """Change a database's retention period (None or 0: forever)."""
        self._iceberg.update_namespace_properties(
            name, updates={RETENTION_PROPERTY: str(retention_ns or 0)}
        )

    # --- tables ----------------------------------------------------------------------------

    def table_names(self, database: str) -> list[str]:
        """The tables of a database, sorted."""
        return sorted(identifier[-1] for identifier in self._iceberg.list_tables(database))

    def load(self, database: str, table: str) -> StoredTable:
        """A table's schema and current files."""
        iceberg = self._iceberg.load_table((database, table))
        return self._stored(database, table, iceberg)

    def current_metadata(self, database: str, table: str) -> tuple[str, dict[str, object]]:
        """The table's metadata location and that file's JSON (the REST catalog's answer)."""
        iceberg = self._iceberg.load_table((database, table))
        return iceberg.metadata_location, read_metadata(iceberg)

    def load_if_exists(self, database: str, table: str) -> StoredTable | None:
        """``load``, or None when the table (or its database) is not in the catalog."""
        try:
            return self.load(database, table)
        except (NoSuchTableError, NoSuchNamespaceError):
            return None

    def _stored(self, database: str, table: str, iceberg: Table) -> StoredTable:
        kinds = decode_kinds(iceberg.properties.get(COLUMNS_PROPERTY, "{}"))
        sequences = {
            key.removeprefix(NODE_SEQUENCE_PREFIX): int(value)
            for key, value in iceberg.properties.items()
            if key.startswith(NODE_SEQUENCE_PREFIX)
        }
        return StoredTable(
            database, table, model_schema_from_kinds(kinds), table_files(iceberg, self._manifests),
            write_root(iceberg), iceberg.metadata_location, sequences,
        )  # fmt: skip

    def table_location(self, database: str, table: str, model_schema: pa.Schema) -> str:
        """The folder a table's new files go under (the table is created if it does not exist).

        Checked to lie under the warehouse: ``StoragePathError`` otherwise.
        """
        return self.write_target(database, table, model_schema).location

    def write_target(self, database: str, table: str, model_schema: pa.Schema) -> WriteTarget:
        """Where new files go and the current partition spec (the table is created if new)."""
        iceberg = self._table(database, table, model_schema)
        root = write_root(iceberg)
        self.storage.contained(root)
        return WriteTarget(root, partitioning_of(iceberg))

    def create_table(
        self,
        database: str,
        table: str,
        model_schema: pa.Schema,
        partition_by: Sequence[str] | None = None,
    ) -> None:
        """Create the table if new, partitioned by ``partition_by`` (None: its database's
        default template, else ``day(time)``); ``PartitioningError`` creates nothing."""
        self.storage.contained(write_root(self._table(database, table, model_schema, partition_by)))

    def partition_by(self, database: str, table: str) -> list[str]:
        """The table's current partition spec, as ``set_partition_by`` takes it."""
        iceberg = self._iceberg.load_table((database, table))
        return describe(iceberg.spec(), iceberg.schema())

    def partition_specs(self, database: str, table: str) -> dict[int, list[str]]:
        """Every partition spec the table has had, by id, as ``set_partition_by`` takes it."""
        iceberg = self._iceberg.load_table((database, table))
        return {i: describe(spec, iceberg.schema()) for i, spec in iceberg.specs().items()}

    def set_partition_by(
        self, database: str, table: str, model_schema: pa.Schema, partition_by: Sequence[str]
    ) -> list[str]:
        """Partition the table's new files by ``partition_by`` (``["hour(time)", "host"]``).

        A new table is created with that spec; an existing one evolves to it (files
        written before keep their spec). ``PartitioningError`` if the spec is not valid
        for the table: only time and tags may partition. Returns the spec now current.
        """
        with self._lock:
            iceberg = self._table(database, table, model_schema, partition_by)
            kinds = decode_kinds(iceberg.properties.get(COLUMNS_PROPERTY, "{}"))
            wanted = parse_partition_by(partition_by, kinds)
            with iceberg.transaction() as tx:
                evolve_spec(tx, iceberg.spec(), iceberg.schema(), wanted)
            return describe(iceberg.spec(), iceberg.schema())

    def _table(
        self,
        database: str,
        table: str,
        model_schema: pa.Schema,
        partition_by: Sequence[str] | None = None,
    ) -> Table:
        """The table to write to, created at a safe location if new (see ``locations``).

        A new table without ``partition_by`` takes its database's default template.
        """
        with self._lock:
            try:  # not table_exists, which loads the table too: that read it twice
                found = self._iceberg.load_table((database, table))
            except NoSuchTableError:
                found = None
            if found is not None:
                return self._writable(found)
            validate_database_name(database)
            validate_table_name(table)
            self.create_database(database)
            location = new_table_location(self.config.warehouse, database, table)
            self.storage.contained(location)
            kinds = column_kinds(model_schema)
            create_iceberg_table(self._iceberg, (database, table), location, kinds, partition_by)
            return self._note(self._iceberg.load_table((database, table)))

    def _writable(self, iceberg: Table) -> Table:
        """``iceberg``, its new files sent to a safe folder first if its location is not one.

        Earlier versions derived the location from the raw name; a table whose location
        left the warehouse or climbed through ``..`` is given a fresh folder, once.
        """
        if is_canonical_location(write_root(iceberg), self.storage):
            return iceberg
        database, table = iceberg.name()[-2], iceberg.name()[-1]
        root = new_table_location(self.config.warehouse, database, table)
        self.storage.contained(root)
        log.warning(
            "table %s.%s had the unsafe location %r; new files go to %r",
            database, table, iceberg.location(), root,
        )  # fmt: skip
        before = iceberg.metadata_location
        with iceberg.transaction() as tx:
            tx.set_properties(relocation_properties(root))
        return self._note(iceberg, before)

    def commit_files(
        self,
        database: str,
        table: str,
        model_schema: pa.Schema,
        files: list[WrittenFile],
        sequence: int,
    ) -> StoredTable:
        """Add new data files in one commit that records ``sequence``; evolve the schema first.

        ``StaleSpecError`` if a file was split by a spec that is no longer current.
        """
        with self._lock:
            iceberg = self._table(database, table, model_schema)
            self._check_own(iceberg, [f.uri for f in files])
            with iceberg.transaction() as tx:
                self._evolve(tx, iceberg, model_schema)
                ensure_commit_properties(tx)
                if self.writer is not None:
                    tx.set_properties({NODE_SEQUENCE_PREFIX + self.writer: str(sequence)})
                props = {WAL_SEQUENCE_PROPERTY: str(sequence)}
                with tx.update_snapshot(snapshot_properties=props).fast_append() as append:
                    for file in files:
                        append.append_data_file(
                            iceberg_data_file(iceberg.io, tx.table_metadata, file)
                        )
            return self._committed(database, table, iceberg)

    def _committed(
        self, database: str, table: str, iceberg: Table, attempts: int = 4
    ) -> StoredTable:
        """The file list right after a commit, from the table object the commit updated.

        The commit has landed, so an error now must not reach the persister, which would
        take the rows back and write them again: outside readers would see them twice.
        Reading the new manifests is retried; only a lasting outage still gives up.
        """
        self._note(iceberg)
        for attempt in range(attempts):
            try:
                return self._stored(database, table, iceberg)
            except OSError:
                if attempt == attempts - 1:
                    raise
                log.warning("reading %s.%s after its commit failed; retrying", database, table)
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def replace_files(
        self,
        database: str,
        table: str,
        remove: list[str],
        add: list[WrittenFile],
        model_schema: pa.Schema,
        keep_order: Callable[[Sequence[DataFile]], Iterable[tuple[int, int]]] | None = None,
    ) -> StoredTable:
        """Swap files atomically (compaction, retention, deletes), keeping the WAL sequence.

        ``keep_order`` (compaction: the pairs of files that may share a row): refuse the swap if a
        newer file that stays may share one with a removed file (``check_order_kept``).
        """
        with self._lock:
            iceberg = self._table(database, table, model_schema)
            self._check_own(iceberg, [f.uri for f in add])
            current = table_files(iceberg, self._manifests)
            doomed = set(remove)
            if keep_order is not None:
                check_order_kept(current.files, doomed, keep_order)
            with iceberg.transaction() as tx:
                self._evolve(tx, iceberg, model_schema)
                ensure_commit_properties(tx)
                props = {WAL_SEQUENCE_PROPERTY: str(current.persisted_sequence)}
                with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
                    for task in iceberg.scan().plan_files():
                        if task.file.file_path in doomed:
                            overwrite.delete_data_file(task.file)
                    for file in add:
                        overwrite.append_data_file(
                            iceberg_data_file(iceberg.io, tx.table_metadata, file)
                        )
            return self._committed(database, table, iceberg)

    def _check_own(self, iceberg: Table, uris: list[str]) -> None:
        """Refuse to record a file outside the table's own ``data/`` folder in the warehouse.

        What the table records is what it may later delete, so it records only its own.
        """
        own_data = f"{write_root(iceberg)}/data"
        for uri in uris:
            self.storage.contained(uri, within=own_data)

    def _evolve(self, tx: Transaction, iceberg: Table, model_schema: pa.Schema) -> None:
        known = decode_kinds(iceberg.properties.get(COLUMNS_PROPERTY, "{}"))
        kinds = {**known, **column_kinds(model_schema)}
        if kinds == known:
            return
        with tx.update_schema() as update:
            update.union_by_name(file_schema(kinds))
        tx.set_properties({COLUMNS_PROPERTY: encode_kinds(kinds)})

    def has_table(self, database: str, table: str) -> bool:
        """Whether the Iceberg table exists."""
        return self._iceberg.table_exists((database, table))

    def drop_table(self, database: str, table: str) -> None:
        """Drop a table and purge its files."""
        with self._lock:
            cleanup.purge_table(self._iceberg, (database, table), self.storage)

    def expire_snapshots(self, database: str, table: str, keep_last: int = 2) -> int:
        """Drop old snapshots so the metadata stays small; returns the files this unreferenced,
        queued for ``delete_unreferenced`` (see ``iox_catalog.cleanup``)."""
        with self._lock:
            iceberg = self._iceberg.load_table((database, table))
            before = iceberg.metadata_location
            try:
                return cleanup.expire(iceberg, keep_last, self._manifests)
            finally:
                self._note(iceberg, before)

    def delete_unreferenced(self, database: str, table: str, min_age_seconds: float) -> int:
        """Delete the table's files that our commits removed, unreferenced for a while."""
        with self._lock:
            iceberg = self._iceberg.load_table((database, table))
            before = iceberg.metadata_location
            try:
                return cleanup.delete_unreferenced(
                    iceberg, self.storage, min_age_seconds, self._manifests
                )
            finally:
                self._note(iceberg, before)
