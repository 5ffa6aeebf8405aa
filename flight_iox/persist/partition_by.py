"""Reading and changing how a table's files are partitioned (its Iceberg partition spec).

A change is an Iceberg spec evolution (``iox_catalog.partition_specs``): files already
written keep their spec, new persists and compactions follow the new one. It runs under
the persister's cycle lock, so no persist or compaction is between splitting rows and
committing them while the spec changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from flight_iox.errors import BadRequestError
from flight_iox.persist.persister import Persister
from iox_catalog.partition_specs import DEFAULT_PARTITION_BY
from iox_catalog.partitioning import PartitioningError


def partition_by(persister: Persister, database: str, table: str) -> list[str]:
    """The table's partitioning (``["day(time)"]``); a table not yet persisted has the default."""
    tables = persister.tables
    tables.catalog.table_schema(database, table)  # TableNotFoundError
    if not tables.iceberg.has_table(database, table):
        return list(DEFAULT_PARTITION_BY)
    return tables.iceberg.partition_by(database, table)


def set_partition_by(
    persister: Persister, database: str, table: str, fields: Sequence[str]
) -> list[str]:
    """Partition the table's new files by ``fields``; returns the partitioning now current.

    ``BadRequestError`` names a field that cannot partition (not time or a tag, say).
    """
    tables = persister.tables
    schema = tables.catalog.table_schema(database, table)
    with persister.cycle_lock:
        try:
            return tables.iceberg.set_partition_by(database, table, schema, fields)
        except PartitioningError as error:
            raise BadRequestError(f"{database}.{table}: {error}") from None
