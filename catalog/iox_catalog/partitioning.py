"""A table's Iceberg partition spec, applied: which partition each row and each file is in.

One place reads the spec for every part of the data path: the writer splits a batch
with ``Partitioning.split`` (vectorised: PyIceberg's own Arrow transforms, then one
grouping of the rows), the compactor groups files by ``DataFile.partition``, and query
planning (``flight_iox/query/overlap.py``) reads ``PartitionKey`` to tell whether two
sources may hold the same row key.

Partition fields may only derive from ``time`` and tags, the columns of the row key, so
two files of one spec with different partition values never hold the same row; that is
what lets queries skip deduplication across partitions. A spec set outside flight-iox
on a field column still works: its files are then compared by time alone.

Partition values are kept as Iceberg stores them in manifests (days since the epoch
for ``day``, the bucket number for ``bucket[N]``, the string for ``truncate``), so the
key of a file just written equals the key read back from the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import (
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    YearTransform,
)
from pyiceberg.types import IcebergType

from iox_catalog.schema import COLUMNS_PROPERTY, ColumnKinds, decode_kinds
from iox_datamodel.columns import TIME_COLUMN, ColumnRole
from iox_datamodel.names import path_segment

# Group ids are combined field by field; past this many combinations they are renumbered.
# Transforms that never decrease as their source grows: a column whose least and greatest
# values map to one partition value maps every row to it.
_MONOTONIC = (YearTransform, MonthTransform, DayTransform, HourTransform, IdentityTransform)
_MAX_GROUPS = 1 << 20
_MICROS_PER_DAY = 86_400_000_000  # (np.bincount over the ids: 8 MB at most)
# Up to this many partitions in a batch, each is filtered out; past it, rows are sorted.
# bench/partition_split.py: 3 days of 1M rows, 3 filters cost less than the sort and gather.
FILTER_PARTITIONS = 8


class PartitioningError(ValueError):
    """A partition spec that flight-iox cannot apply (the message names the field)."""


@dataclass(frozen=True)
class PartitionKey:
    """The partition a file is in: its spec's id and the values of the spec's fields.

    ``keyed``: every field derives from the row key (time or a tag), so two files of the
    same spec whose values differ never hold the same row.
    """

    spec_id: int
    values: tuple[object, ...]
    keyed: bool = field(default=True, compare=False)


@dataclass(frozen=True)
class Partition:
    """The rows of one batch that belong to one partition, and the folder they go to."""

    key: PartitionKey
    path: str  # ``<field>=<value>/…`` (see ``partition_path``; empty when unpartitioned)
    rows: pa.Table


def key_columns(kinds: ColumnKinds) -> set[str]:
    """The columns of the row key: time and the tags."""
    return {TIME_COLUMN, *(name for name, kind in kinds.items() if kind == ColumnRole.TAG)}


def is_keyed(spec: PartitionSpec, schema: Schema, kinds: ColumnKinds) -> bool:
    """Whether every field of ``spec`` derives from a column of the row key."""
    keys = key_columns(kinds)
    return all(schema.find_column_name(f.source_id) in keys for f in spec.fields)


@dataclass(frozen=True)
class Partitioning:
    """A table's current partition spec with the schema it binds to."""

    spec: PartitionSpec
    schema: Schema
    keyed: bool = True

    def split(self, rows: pa.Table) -> list[Partition]:
        """``rows`` (in the file shape) split by partition, each keeping the rows' order.

        The spec's transforms run on whole columns (PyIceberg's ``pyarrow_transform``;
        on a tag, once per distinct value), then give each row a group id. A batch in
        one partition is returned as it is; a few partitions are filtered out one by one
        (sequential scans); more are gathered by one stable sort of the ids and sliced.
        """
        if not self.spec.fields or rows.num_rows == 0:
            values = tuple(None for _ in self.spec.fields)
            return [self._partition(values, rows)]
        one = self._one_partition(rows)
        if one is not None:
            return [self._partition(one, rows)]
        columns = [self._transformed(f, rows) for f in self.spec.fields]
        groups, count = _group_ids(columns)
        present = np.flatnonzero(np.bincount(groups, minlength=count))
        if len(present) == 1:
            return [self._partition(tuple(c[0].as_py() for c in columns), rows)]
        if len(present) <= FILTER_PARTITIONS:  # a few scans beat a sort and a gather
            parts = []
            for group in present:
                mask = groups == group
                values = tuple(c[int(mask.argmax())].as_py() for c in columns)
                parts.append(self._partition(values, rows.filter(pa.array(mask))))
            return parts
        order = np.argsort(groups, kind="stable")
        starts = np.flatnonzero(np.diff(groups[order])) + 1
        taken = rows.take(pa.array(order))
        parts = []
        for start, end in itertools.pairwise([0, *starts.tolist(), rows.num_rows]):
            first = int(order[start])
            values = tuple(c[first].as_py() for c in columns)
            parts.append(self._partition(values, taken.slice(start, end - start)))
        return parts

    def _one_partition(self, rows: pa.Table) -> tuple[object, ...] | None:
        """The partition values of ``rows`` when they are all in one partition by every
        field's bounds alone, else None (then each row is transformed).

        A persist's batch is usually within one day: transforming its million times to days
        and grouping them took about 25 ms of CPU per persist, 6 ms of it in one call that
        holds the interpreter's lock (PyIceberg's Rust transform), while queries waited.
        A field qualifies when its transform never decreases (time truncation, identity) on
        a column of integers or times without nulls, and its least and greatest values map
        to one value: then every row maps to it.
        """
        values = []
        for spec_field in self.spec.fields:
            source = self.schema.find_field(spec_field.source_id)
            if not isinstance(spec_field.transform, _MONOTONIC):
                return None
            if source.name not in rows.column_names:
                return None  # the full path names the missing column
            column = rows.column(source.name)
            kind = column.type
            if column.null_count or not (pa.types.is_integer(kind) or pa.types.is_timestamp(kind)):
                return None
            bounds = pc.min_max(column.cast(pa.int64()))  # exact: read as integers
            least, greatest = bounds["min"].as_py(), bounds["max"].as_py()
            ends = pa.array([least, greatest], pa.int64()).cast(kind)
            first, last = self._transform(spec_field, ends).to_pylist()
            if first != last:
                return None
            values.append(first)
        return tuple(values)

    def _transformed(self, spec_field: PartitionField, rows: pa.Table) -> pa.Array:
        """One partition field's values for every row, as Iceberg stores them."""
        source = self.schema.find_field(spec_field.source_id)
        if source.name not in rows.column_names:
            raise PartitioningError(
                f"partition field {spec_field.name!r}: no column {source.name!r}"
            )
        column = rows.column(source.name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        return self._transform(spec_field, column.combine_chunks())

    def _transform(self, spec_field: PartitionField, column: pa.Array) -> pa.Array:
        """``spec_field``'s transform of its source column's ``column`` (values as Iceberg
        stores them)."""
        source = self.schema.find_field(spec_field.source_id)
        try:
            transform = spec_field.transform.pyarrow_transform(source.field_type)
        except NotImplementedError:
            raise PartitioningError(
                f"partition field {spec_field.name!r}: transform {spec_field.transform} "
                "cannot be applied by flight-iox"
            ) from None
        if pa.types.is_string(column.type):  # a tag: few values, transformed once each
            encoded = pc.dictionary_encode(column)
            result = transform(encoded.dictionary).take(encoded.indices)
        elif isinstance(spec_field.transform, DayTransform) and _micros(column.type):
            result = _days(column)
        else:
            result = transform(column)
        if pa.types.is_timestamp(result.type):  # identity on a timestamp: µs, as in manifests
            result = result.cast(pa.int64())
        return result

    @cached_property
    def _value_types(self) -> list[IcebergType]:
        return [f.field_type for f in self.spec.partition_type(self.schema).fields]

    def _partition(self, values: tuple[object, ...], rows: pa.Table) -> Partition:
        key = PartitionKey(self.spec.spec_id, values, self.keyed)
        return Partition(key, partition_path(self.spec, self._value_types, values), rows)


def partition_path(
    spec: PartitionSpec, value_types: Sequence[IcebergType], values: tuple[object, ...]
) -> str:
    """The folder of a partition: ``time_day=2023-11-14/host_bucket_4=3``.

    Iceberg's layout with Iceberg's human-readable values, but escaped like every other
    segment we write (``iox_datamodel.names.path_segment``: ``[A-Za-z0-9_-]`` kept, other
    bytes as ``~XX``), not with PyIceberg's ``%XX``: DataFusion decodes ``%2F`` in a file
    URI, so ``host=a%2Fb`` would be read from a folder that does not exist. Dates, hours,
    bucket numbers and plain tag values come out exactly as Iceberg writes them; readers
    take partition values from the manifests, never from the path.
    """
    segments = []
    for spec_field, value_type, value in zip(spec.fields, value_types, values, strict=True):
        text = spec_field.transform.to_human_string(value_type, value)
        segments.append(f"{path_segment(spec_field.name)}={path_segment(text)}")
    return "/".join(segments)


@dataclass(frozen=True)
class WriteTarget:
    """Where a table's new files go and how they are split: read from the catalog at each write."""

    location: str
    partitioning: Partitioning


def partitioning_of(table: Table) -> Partitioning:
    """How new files of ``table`` are partitioned: its current spec."""
    kinds = decode_kinds(table.properties.get(COLUMNS_PROPERTY, "{}"))
    spec, schema = table.spec(), table.schema()
    return Partitioning(spec, schema, is_keyed(spec, schema, kinds))


def _micros(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) and kind.unit == "us"


def _days(column: pa.Array) -> pa.Array:
    """Iceberg's ``day`` of microsecond times: days from 1970-01-01, rounded down.

    pyiceberg-core 0.10's Arrow day transform gives the next day for most of the last
    second before a midnight before 1970 (-86,400,000,002 µs: day -1, where the spec and
    PyIceberg's own Python transform say -2), so such rows were filed under the wrong day
    and a reader pruning by partition value would miss them."""
    micros = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return pa.array(np.floor_divide(micros, _MICROS_PER_DAY).astype(np.int32), pa.int32())


def _group_ids(columns: Sequence[pa.Array]) -> tuple[np.ndarray, int]:
    """One id per row in ``[0, count)``, equal where every column is equal (nulls too)."""
    groups = np.zeros(len(columns[0]), dtype=np.int64)
    count = 1
    for column in columns:
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        size = len(encoded.dictionary)
        groups = groups * size + encoded.indices.to_numpy(zero_copy_only=False)
        count *= size
        if count > _MAX_GROUPS:
            uniques, groups = np.unique(groups, return_inverse=True)
            count = len(uniques)
    return groups, count
