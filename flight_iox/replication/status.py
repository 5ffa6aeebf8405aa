"""``system.replication``: one row per replica this node ships to or is followed by, and
one for its own leader when it is a replica. Admin only, like ``system.nodes``."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

REPLICATION_SCHEMA = pa.schema(
    [
        pa.field("replica", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),  # sync, async, pull, or this node's role
        pa.field("leader", pa.string(), nullable=True),
        pa.field("last_shipped_sequence", pa.int64(), nullable=True),
        pa.field("last_acked_sequence", pa.int64(), nullable=True),
        pa.field("lag_entries", pa.int64(), nullable=True),
        pa.field("lag_bytes", pa.int64(), nullable=True),
        pa.field("lag_seconds", pa.float64(), nullable=True),
        pa.field("state", pa.string(), nullable=False),
        pa.field("error", pa.string(), nullable=True),
    ]
)


@dataclass(frozen=True)
class ReplicationRow:
    """One row of ``system.replication``."""

    replica: str
    mode: str
    leader: str | None
    last_shipped_sequence: int | None
    last_acked_sequence: int | None
    lag_entries: int | None
    lag_bytes: int | None
    lag_seconds: float | None
    state: str
    error: str | None


def replication_table(rows: list[ReplicationRow]) -> pa.Table:
    """The rows as the table (columns in ``REPLICATION_SCHEMA`` order)."""
    return pa.Table.from_pylist([row.__dict__ for row in rows], schema=REPLICATION_SCHEMA)
