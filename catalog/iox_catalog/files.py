"""What a table's current Iceberg snapshot holds: its data files, time ranges and partitions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import ValidationException
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
from pyiceberg.types import IntegerType, StringType, TimestampType

from iox_catalog.manifest_entries import ManifestEntries
from iox_catalog.partitioning import PartitionKey, is_keyed
from iox_catalog.schema import COLUMNS_PROPERTY, REMAINDER_COLUMN, decode_kinds
from iox_datamodel.columns import TIME_COLUMN, ColumnRole

WAL_SEQUENCE_PROPERTY = "iox.wal-sequence"
# A cluster ingest node's own WAL sequence, as a table property: ``iox.wal-sequence.<node>``.
NODE_SEQUENCE_PREFIX = WAL_SEQUENCE_PROPERTY + "."


@dataclass(frozen=True)
class TagBounds:
    """What one source holds of one tag column: bounds of its values, and whether nulls.

    ``values``: some row has a value (``False``: the tag is null in every row, as in a
    file written before the tag existed). ``lower``/``upper`` bound those values (``None``:
    unbounded on that side, e.g. an Iceberg bound truncated past repair). ``nulls``: some
    row may lack the tag. Bounds only ever widen what is known, so two sources whose
    bounds say they share no value of a tag share no row key (see ``query/overlap.py``).
    """

    lower: str | None = None
    upper: str | None = None
    values: bool = True
    nulls: bool = True


UNKNOWN_TAG = TagBounds()


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table, with what pruning and dedupe need to know.

    ``tags``: each tag column's bounds, from the manifest's column statistics (a tag not
    listed is unknown: any value, maybe null; ``None``: no statistics were read).
    """

    path: str
    record_count: int
    size_bytes: int
    min_time_us: int
    max_time_us: int
    sequence_number: int
    has_remainder: bool = True
    partition: PartitionKey | None = None  # None: not known (files only tests make)
    tags: tuple[tuple[str, TagBounds], ...] | None = None
    # The fields of the file's spec, as (source column, transform): ``("host", "bucket[16]")``.
    partition_fields: tuple[tuple[str, str], ...] = ()

    def tag_bounds(self, tag: str) -> TagBounds:
        """The bounds of ``tag`` in this file (unknown when not recorded)."""
        return dict(self.tags or ()).get(tag, UNKNOWN_TAG)


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


def check_order_kept(
    files: Sequence[DataFile],
    remove: set[str],
    sharing_pairs: Callable[[Sequence[DataFile]], Iterable[tuple[int, int]]],
) -> None:
    """Refuse to swap out ``remove`` while a newer file that stays may share a row with one.

    Readers take the last write by commit order, and the swap's new files commit last: a
    compaction planned before another node appended an overlapping file would put the
    rows that file overwrote back on top (``ValidationException``; the compactor retries
    once it has followed the newer file, which its plan then includes). ``sharing_pairs``
    gives the indexes of the files that may share a row, as the planner sees it (time,
    partition and tag bounds, then each series' times), in one pass over them all.
    """
    for i, j in sharing_pairs(files):
        for old, kept in ((files[i], files[j]), (files[j], files[i])):
            if old.path not in remove or kept.path in remove:
                continue
            if kept.sequence_number > old.sequence_number:
                raise ValidationException(
                    f"{kept.path} is newer than {old.path} and overlaps it, but is not in the swap"
                )


def _bound(raw: bytes | None) -> int:
    return int(from_bytes(TimestampType(), raw)) if raw else 0


def _remainder_bound(bounds: dict[int, bytes] | None, field_id: int) -> int | None:
    raw = (bounds or {}).get(field_id)
    return int(from_bytes(IntegerType(), raw)) if raw else None


def _string_bound(raw: bytes | None) -> str | None:
    return str(from_bytes(StringType(), raw)) if raw else None


def _tag_bounds(data: IcebergDataFile, tags: dict[str, int]) -> tuple[tuple[str, TagBounds], ...]:
    """Each tag's bounds from the manifest entry's statistics.

    A column with no value count was not in the file (all null) or not measured: unknown
    either way. PyIceberg truncates string bounds to 16 characters by default, the lower
    as a prefix and the upper incremented, so both stay bounds; an upper it could not
    increment is absent, and reads as unbounded.
    """
    counts, nulls = data.value_counts or {}, data.null_value_counts or {}
    lowers, uppers = data.lower_bounds or {}, data.upper_bounds or {}
    found = []
    for name, field_id in tags.items():
        if field_id not in counts or field_id not in nulls:
            continue
        null_count = nulls[field_id]
        has_values = null_count < counts[field_id]
        found.append(
            (
                name,
                TagBounds(
                    lower=_string_bound(lowers.get(field_id)) if has_values else None,
                    upper=_string_bound(uppers.get(field_id)) if has_values else None,
                    values=has_values,
                    nulls=null_count > 0,
                ),
            )
        )
    return tuple(found)


def _values(partition: Record) -> tuple[object, ...]:
    return tuple(partition[i] for i in range(len(partition)))


def table_files(table: Table, manifests: ManifestEntries) -> TableFiles:
    """The current snapshot's files and the WAL sequence recorded in its summary
    (``manifests``: entries read before, to read only the manifests new since)."""
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
    tags = {f.name: f.field_id for f in schema.fields if kinds.get(f.name) == ColumnRole.TAG}
    spec_fields = {
        i: tuple(
            (schema.find_column_name(f.source_id) or "", str(f.transform)) for f in spec.fields
        )
        for i, spec in table.specs().items()
    }
    files = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifests.live(manifest, table.io):
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
                    tags=_tag_bounds(data, tags),
                    partition_fields=spec_fields.get(data.spec_id, ()),
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


@dataclass(frozen=True)
class StoredTable:
    """A table as the catalog knows it: its data-model schema and its files."""

    database: str
    name: str
    model_schema: pa.Schema
    files: TableFiles
    location: str  # the folder new files go under (see iox_catalog.locations)
    metadata_location: str = ""  # changes with every commit (see iox_catalog.state)
    node_sequences: dict[str, int] = field(default_factory=dict)  # per writer (a cluster's)

    def persisted_through(self, writer: str | None) -> int:
        """The WAL sequence persisted through: of ``writer``'s own WAL in a cluster, where
        each ingest node numbers its WAL alone; the table's one sequence otherwise."""
        if writer is None:
            return self.files.persisted_sequence
        return self.node_sequences.get(writer, 0)
