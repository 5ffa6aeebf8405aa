"""Where a table's files go: a folder derived from an escaped name plus an id, never raw text.

A new table lives at ``<warehouse>/<database>/<escaped table>-<16 hex>``: the
escape (``iox_datamodel.names.path_segment``) keeps only ``[A-Za-z0-9_-]`` and the
random id keeps two tables (``CPU`` and ``cpu`` on a case-insensitive disk, two
long names cut to the same prefix, a table dropped and created again) out of
each other's folder. The location is recorded in the Iceberg metadata, so the
rule can change without moving anything.

Tables written by earlier versions keep their location when it is plain and
under the warehouse. Otherwise (``<warehouse>/mine/../other/cpu``, or a location
outside the warehouse) new data and metadata files go to a fresh folder, set
through the standard ``write.data.path`` and ``write.metadata.path`` properties;
``ROOT_PROPERTY`` records it. Files already written there stay readable.
"""

from __future__ import annotations

import uuid

from pyiceberg.table import Table, TableProperties

from iox_datamodel.names import path_segment

ROOT_PROPERTY = "iox.location"


def new_table_location(warehouse: str, database: str, table: str) -> str:
    """A fresh folder for a table: escaped database, escaped table name and a random id."""
    segment = f"{path_segment(table)}-{uuid.uuid4().hex[:16]}"
    return f"{warehouse.rstrip('/')}/{path_segment(database)}/{segment}"


def write_root(iceberg: Table) -> str:
    """The folder new files of the table go under (``data/`` and ``metadata/`` inside)."""
    return iceberg.properties.get(ROOT_PROPERTY) or iceberg.location().rstrip("/")


def relocation_properties(root: str) -> dict[str, str]:
    """Table properties that send new data and metadata files under ``root``."""
    return {
        ROOT_PROPERTY: root,
        TableProperties.WRITE_DATA_PATH: f"{root}/data",
        TableProperties.WRITE_METADATA_PATH: f"{root}/metadata",
    }
