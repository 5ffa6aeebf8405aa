"""What every data commit makes sure of in its table's properties: a name mapping, a short log.

Readers find our files' columns by the name mapping (the files carry no field ids), set once.

The metadata log is kept short because every update of a commit copies the whole metadata.

PyIceberg applies each update of a transaction to a deep copy of the table's metadata
(pydantic's ``model_copy(deep=True)``), and reads the metadata again several times per
commit, so a commit's CPU grows with the metadata's size, holding Python's interpreter lock.
What grows is the metadata log: the previous metadata files, 100 of them by Iceberg's
default (``write.metadata.previous-versions-max``). A server persisting every few seconds,
with an expiry after each compaction, reaches those 100 within minutes (issue 20's soak: the
queries that met a persist grew slower after its tenth minute); a persist cycle then cost
12% more than with 8 listed (``bench/commit_growth.py``). The snapshots themselves are
expired down to two. So a table keeps ``METADATA_VERSIONS_KEPT`` previous metadata files
listed, unless its owner set the property otherwise; older metadata files stay where they
are (nothing is deleted), only unlisted.
"""

from __future__ import annotations

from pyiceberg.table import TableProperties, Transaction

METADATA_VERSIONS_KEPT = 8
VERSIONS_PROPERTY = TableProperties.METADATA_PREVIOUS_VERSIONS_MAX


def ensure_commit_properties(tx: Transaction) -> None:
    """The name mapping and the metadata log's bound, each set once (a set bound is kept)."""
    set_name_mapping(tx)
    if VERSIONS_PROPERTY not in tx.table_metadata.properties:
        tx.set_properties({VERSIONS_PROPERTY: str(METADATA_VERSIONS_KEPT)})


def set_name_mapping(tx: Transaction) -> None:
    """Map column names to field ids for readers, once (as PyIceberg's ``add_files`` does).

    Our files carry no Iceberg field ids; readers find their columns by this mapping.
    """
    if tx.table_metadata.name_mapping() is None:
        mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
        tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
