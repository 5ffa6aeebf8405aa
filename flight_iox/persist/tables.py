"""What persistence changes: the tables' schemas, buffered rows, file lists, and their storage.

Every table change here (persist, compaction, retention, deletes, CREATE TABLE,
repair) reads the schema catalog, swaps a table's file list in the buffer, writes
to the object store, commits to the Iceberg catalog and tells the query side. The
composition root (``flight_iox/app.py``) builds one ``TableStore`` over the parts the
engine's recovery filled and passes it in; no module here reaches them through the
write path's ``Engine``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.persist.encoder import PartEncoder
from flight_iox.persist.parquet_files import WrittenPart, store_parts
from flight_iox.ports import QueryCaches
from flight_iox.query.series_index import SeriesIndex
from iox_catalog import IoxCatalog
from iox_catalog.partitioning import WriteTarget
from iox_catalog.schema import ColumnKinds
from iox_catalog.storage import Storage


@dataclass(frozen=True)
class TableStore:
    """The parts a table change needs, built once."""

    catalog: SchemaCatalog  # the schemas (and retention) every service reads
    buffers: BufferSet  # buffered rows and each table's current file list
    iceberg: IoxCatalog  # the durable file lists (one commit per change)
    storage: Storage  # the object store the files live in
    caches: QueryCaches  # the query side's view of the tables
    series: SeriesIndex  # which files share a series in time (the query side's, too)
    encoder: PartEncoder  # where new files are encoded (big batches: a child process)

    def write_parts(
        self, data: pa.Table, kinds: ColumnKinds, target: WriteTarget
    ) -> list[WrittenPart]:
        """``parquet_files.write_parts`` with the encoding done by ``encoder``."""
        return store_parts(
            self.encoder.encode(data, kinds, target.partitioning), target, self.storage
        )

    def schema(self, database: str, table: str) -> pa.Schema | None:
        """The table's Arrow schema (None when it or its database does not exist)."""
        with self.catalog.lock:
            if not self.catalog.has_database(database):
                return None
            stored = self.catalog.database(database).tables.get(table)
            return stored.arrow_schema() if stored else None
