"""Other nodes' view of a table, merged into this node's before the table is registered.

A query node holds no rows of its own: before a statement is planned, the ingest nodes
send, for each table it may read, their unpersisted rows and the file list they had at
the same instant (``cluster/remote_rows.py`` fetches them; this module only merges). The
merge makes the one snapshot a single node would have had:

- files: the newest list among the nodes' and this node's own (followed from the
  catalog). A table's commits are linear, so the list with the highest data sequence
  number holds every earlier commit; an ingest node's rows are either in its buffer or
  in a file of its list, taken at one instant, so none falls between the two.
- rows: every node's buffer, the table's current owner last, deduplicated as one buffer
  (last write wins, field by field); files and rows are then deduplicated together by
  the table builder, exactly as on a single node.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from flight_iox.engine.buffer import TableSnapshot, conform
from flight_iox.engine.dedupe import deduplicate, has_duplicate_keys
from flight_iox.query.scan_needs import ScanNeeds
from iox_catalog.files import DataFile


@dataclass(frozen=True)
class RemoteTable:
    """One table as the other nodes hold it: file lists and buffers, owner's last."""

    # Equal when nothing changed: the nodes' buffer versions and files, and what was asked.
    token: Hashable
    file_lists: tuple[tuple[DataFile, ...], ...]
    rows: tuple[pa.Table, ...]

    def merged(self, local: TableSnapshot, schema: pa.Schema) -> TableSnapshot:
        """This node's snapshot with the other nodes' files and rows merged in."""
        files = max((local.files, *self.file_lists), key=_newest)
        parts = [conform(part, schema) for part in (local.buffered, *self.rows) if part.num_rows]
        if not parts:
            return TableSnapshot(files, conform(local.buffered, schema))
        rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1 and has_duplicate_keys(rows):
            rows = deduplicate(rows)
        return TableSnapshot(files, rows)


def _newest(files: tuple[DataFile, ...]) -> int:
    return max((f.sequence_number for f in files), default=-1)


class RemoteTables(Protocol):
    """Fetches other nodes' state of the tables a statement may read (a query node's)."""

    def fetch(
        self, database: str, sql: str | None, needs: Mapping[str, ScanNeeds] | None = None
    ) -> dict[str, RemoteTable]:
        """Per table read: the other nodes' rows and files. Applies their schemas (new
        databases, tables and columns) to this node's schema catalog first. ``needs``:
        what the statement needs of each table it scans (``scan_needs.py``); the nodes
        send only that of those tables. None: everything of every table read."""
        ...

    def learn_schemas(self, database: str) -> None:
        """Apply the other nodes' schemas of every table of ``database`` (no rows), so
        names resolved before a statement runs (InfluxQL, Flight SQL listings) resolve."""
        ...
