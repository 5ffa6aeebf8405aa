"""Recovery on start: the WAL replayed over the tables the Iceberg catalog holds.

Every acknowledged write is in the WAL or in a committed file, so loading the
catalog (``persist.follower.CatalogMirror.load``) and then replaying what it does not
cover restores the buffer a ``kill -9`` lost. The composition root
(``flight_iox/app.py``) runs both before it builds the services over the catalog and
the buffer.
"""

from __future__ import annotations

import logging

from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.wal import WriteAheadLog, decode_write

log = logging.getLogger(__name__)


def replay(
    wal: WriteAheadLog,
    catalog: SchemaCatalog,
    buffers: BufferSet,
    persisted: dict[tuple[str, str], int],
) -> int:
    """Replay WAL entries newer than what the catalog says each table has persisted.

    The check is per table only: there is no global floor, because a commit records
    the global WAL sequence, so an older entry may hold a table that no commit
    covered yet (another database persisted alone, a table whose first commit
    failed, or a table of another server sharing the catalog). Returns the entries read.
    """
    count = 0
    for entry in wal.replay(after_sequence=0):
        write = decode_write(entry.payload)
        if entry.sequence <= catalog.deleted_through(write.database):
            continue
        for table_write in write.tables:
            key = (write.database, table_write.table)
            if entry.sequence <= max(persisted.get(key, 0), catalog.table_deleted_through(*key)):
                continue
            catalog.apply_replayed_schema(
                write.database, table_write.table, table_write.batch.schema
            )
            buffers.append(write.database, table_write.table, entry.sequence, table_write.batch)
        count += 1
    log.info("replayed %d WAL entries", count)
    return count
