"""Keep a table's metadata log short: every update of a commit copies the whole metadata.

PyIceberg applies each update of a transaction to a deep copy of the table's metadata
(pydantic's ``model_copy(deep=True)``), and reads the metadata again several times per
commit, so a commit's CPU grows with the metadata's size, holding Python's interpreter lock.
What grows is the metadata log: the previous metadata files, 100 of them by Iceberg's
default (``write.metadata.previous-versions-max``). A server persisting every few seconds,
with an expiry after each compaction, reaches those 100 within minutes, and each persist
cycle then cost twice its first (issue 20's soak: the queries that met a persist grew
slower after its tenth minute; ``bench/commit_growth.py``). The snapshots themselves are
expired down to two. So a table keeps ``METADATA_VERSIONS_KEPT`` previous metadata files
listed, unless its owner set the property otherwise; older metadata files stay where they
are (nothing is deleted), only unlisted.
"""

from __future__ import annotations

from pyiceberg.table import TableProperties, Transaction

METADATA_VERSIONS_KEPT = 8
VERSIONS_PROPERTY = TableProperties.METADATA_PREVIOUS_VERSIONS_MAX


def keep_metadata_log_short(tx: Transaction) -> None:
    """Bound the table's metadata log in this transaction, once (a set value is kept)."""
    if VERSIONS_PROPERTY not in tx.table_metadata.properties:
        tx.set_properties({VERSIONS_PROPERTY: str(METADATA_VERSIONS_KEPT)})
