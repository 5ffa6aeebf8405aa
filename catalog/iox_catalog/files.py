"""What a table's current Iceberg snapshot holds: its data files and their time ranges."""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.conversions import from_bytes
from pyiceberg.manifest import ManifestContent
from pyiceberg.table import Table
from pyiceberg.types import IntegerType, TimestampType

from iox_catalog.schema import REMAINDER_COLUMN
from iox_datamodel.columns import TIME_COLUMN

WAL_SEQUENCE_PROPERTY = "iox.wal-sequence"


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table, with what pruning and dedupe need to know."""

    path: str
    record_count: int
    size_bytes: int
    min_time_us: int
    max_time_us: int
    sequence_number: int
    has_remainder: bool = True


@dataclass(frozen=True)
class TableFiles:
    """A table's files (oldest commit first) and the WAL sequence persisted through."""

    files: tuple[DataFile, ...]
    persisted_sequence: int
    snapshot_id: int | None


def _bound(raw: bytes | None) -> int:
    return int(from_bytes(TimestampType(), raw)) if raw else 0


def _remainder_bound(bounds: dict[int, bytes] | None, field_id: int) -> int | None:
    raw = (bounds or {}).get(field_id)
    return int(from_bytes(IntegerType(), raw)) if raw else None


def table_files(table: Table) -> TableFiles:
    """The current snapshot's files and the WAL sequence recorded in its summary."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return TableFiles((), 0, None)
    summary = snapshot.summary
    sequence = summary.additional_properties.get(WAL_SEQUENCE_PROPERTY) if summary else None
    persisted = int(sequence) if sequence is not None else 0
    time_id = table.schema().find_field(TIME_COLUMN).field_id
    remainder_id = table.schema().find_field(REMAINDER_COLUMN).field_id
    files = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            data = entry.data_file
            files.append(
                DataFile(
                    path=data.file_path,
                    record_count=data.record_count,
                    size_bytes=data.file_size_in_bytes,
                    min_time_us=_bound((data.lower_bounds or {}).get(time_id)),
                    max_time_us=_bound((data.upper_bounds or {}).get(time_id)),
                    sequence_number=entry.sequence_number or 0,
                    has_remainder=_remainder_bound(data.upper_bounds, remainder_id) != 0,
                )
            )
    files.sort(key=lambda f: (f.sequence_number, f.path))
    return TableFiles(tuple(files), persisted, snapshot.snapshot_id)
