"""Creating a table's Iceberg table: schema, partition spec and sort order in one commit."""

from __future__ import annotations

from collections.abc import Sequence

from pyiceberg.catalog import Catalog
from pyiceberg.transforms import IdentityTransform

from iox_catalog.commit_properties import METADATA_VERSIONS_KEPT, VERSIONS_PROPERTY
from iox_catalog.partition_specs import DEFAULT_PARTITION_BY, parse_partition_by
from iox_catalog.partition_template import decode_default, inherited
from iox_catalog.schema import COLUMNS_PROPERTY, ColumnKinds, encode_kinds, file_schema
from iox_datamodel.columns import TIME_COLUMN


def spec_for_new_table(
    iceberg: Catalog, database: str, kinds: ColumnKinds, partition_by: Sequence[str] | None
) -> Sequence[str]:
    """The spec words a new table gets: its own, else its database's default, else ``day``."""
    if partition_by is not None:
        return partition_by
    default = decode_default(iceberg.load_namespace_properties(database))
    return DEFAULT_PARTITION_BY if default is None else inherited(default, kinds)


def create_iceberg_table(
    iceberg: Catalog,
    identifier: tuple[str, str],
    location: str,
    kinds: ColumnKinds,
    partition_by: Sequence[str] | None,
) -> None:
    """Create the table with its spec and sort order (tags, then time) in one commit.

    As two commits, a failure or a crash between them left the table unpartitioned for
    good. The spec is parsed before anything is created (``PartitioningError``).
    """
    wanted = parse_partition_by(spec_for_new_table(iceberg, identifier[0], kinds, partition_by),
                                kinds)  # fmt: skip
    with iceberg.create_table_transaction(
        identifier,
        schema=file_schema(kinds),
        location=location,
        properties={
            COLUMNS_PROPERTY: encode_kinds(kinds),
            VERSIONS_PROPERTY: str(METADATA_VERSIONS_KEPT),
        },
    ) as tx:
        update = tx.update_spec()
        for column, transform in wanted:
            update.add_field(column, transform)
        update.commit()
        order = tx.update_sort_order()
        for tag in [name for name, kind in sorted(kinds.items()) if kind == "tag"]:
            order.asc(tag, IdentityTransform())
        order.asc(TIME_COLUMN, IdentityTransform())
        order.commit()
