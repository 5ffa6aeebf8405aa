"""What a table's current Iceberg snapshot holds: its data files, time ranges and partitions."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.parquet as pq
from pyiceberg.conversions import from_bytes
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile as IcebergDataFile
from pyiceberg.manifest import DataFileContent, FileFormat, ManifestContent
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record
from pyiceberg.types import IntegerType, TimestampType

from iox_catalog.partitioning import PartitionKey, is_keyed
from iox_catalog.schema import COLUMNS_PROPERTY, REMAINDER_COLUMN, decode_kinds
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
    partition: PartitionKey | None = None  # None: not known (files only tests make)


@dataclass(frozen=True)
class WrittenFile:
    """A data file just written, not yet committed: where it is and its partition."""

    uri: str
    partition: PartitionKey


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


def _values(partition: Record) -> tuple[object, ...]:
    return tuple(partition[i] for i in range(len(partition)))


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
    kinds = decode_kinds(table.properties.get(COLUMNS_PROPERTY, "{}"))
    schema = table.schema()
    keyed = {i: is_keyed(spec, schema, kinds) for i, spec in table.specs().items()}
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
                    partition=PartitionKey(
                        data.spec_id, _values(data.partition), keyed.get(data.spec_id, False)
                    ),
                )
            )
    files.sort(key=lambda f: (f.sequence_number, f.path))
    return TableFiles(tuple(files), persisted, snapshot.snapshot_id)


class StaleSpecError(RuntimeError):
    """A file was split by a partition spec that is no longer the table's current one."""


def iceberg_data_file(io: FileIO, metadata: TableMetadata, written: WrittenFile) -> IcebergDataFile:
    """The manifest entry for a file we wrote, with the partition the writer put it in.

    PyIceberg's ``add_files`` infers a partition from the file's column bounds, which
    works only for order-preserving transforms (not ``bucket``) and trusts bounds that
    may be truncated; the writer knows the partition, so it is recorded as it is.
    Added files are written under the table's current spec, so a file split by an older
    one is refused (``StaleSpecError``): its rows stay buffered and are split again.
    """
    if written.partition.spec_id != metadata.default_spec_id:
        raise StaleSpecError(
            f"{written.uri} was partitioned by spec {written.partition.spec_id}, "
            f"but the table's spec is now {metadata.default_spec_id}"
        )
    input_file = io.new_input(written.uri)
    with input_file.open() as stream:
        parquet_metadata = pq.read_metadata(stream)
    schema = metadata.schema()
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=parquet_metadata,
        stats_columns=compute_statistics_plan(schema, metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return IcebergDataFile.from_args(
        content=DataFileContent.DATA,
        file_path=written.uri,
        file_format=FileFormat.PARQUET,
        partition=Record(*written.partition.values),
        file_size_in_bytes=len(input_file),
        sort_order_id=None,
        spec_id=written.partition.spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )
