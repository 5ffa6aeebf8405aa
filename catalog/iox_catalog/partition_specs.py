"""Partition specs as users write them: ``["hour(time)", "bucket(4, host)", "region"]``.

The words are those of Iceberg's SQL (Spark's ``PARTITIONED BY``): ``year``, ``month``,
``day`` and ``hour`` of ``time`` (also as plurals), ``bucket(N, tag)``,
``truncate(W, tag)``, and a bare tag name for its identity. Only time and tags may
partition (see ``iox_catalog.partitioning``: a field column would let one row key land
in two partitions). A new spec is an Iceberg spec evolution: files keep the spec they
were written with, and new files follow the new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids
from pyiceberg.partitioning import PARTITION_FIELD_ID_START, PartitionField, PartitionSpec
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import Transaction
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

from iox_catalog.partitioning import Partitioning, PartitioningError, is_keyed
from iox_catalog.schema import ColumnKinds, file_schema
from iox_datamodel.columns import TIME_COLUMN, ColumnRole

# What a table is partitioned by unless told otherwise (and what every table had before).
DEFAULT_PARTITION_BY = ("day(time)",)
_TIME_TRANSFORMS: dict[str, Callable[[], Transform[Any, Any]]] = {
    "year": YearTransform,
    "month": MonthTransform,
    "day": DayTransform,
    "hour": HourTransform,
}
_TAG_TRANSFORMS: dict[str, Callable[[int], Transform[Any, Any]]] = {
    "bucket": BucketTransform,
    "truncate": TruncateTransform,
}
_CALL = re.compile(r'(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?("[^"]+"|[^(),"]+?)\s*\)')
MAX_BUCKETS = 65_536

# A field of a spec to be: the source column and the transform.
FieldRequest = tuple[str, Transform[Any, Any]]


def parse_partition_by(items: Sequence[str], kinds: ColumnKinds) -> list[FieldRequest]:
    """The fields ``items`` asks for, checked against the table's columns.

    ``PartitioningError`` names the item and what is wrong with it.
    """
    if isinstance(items, str) or not all(isinstance(item, str) for item in items):
        raise PartitioningError("partition_by must be a list of strings, like ['day(time)']")
    fields = [_parse_item(item, kinds) for item in items]
    time_fields = [
        item for item, (column, _) in zip(items, fields, strict=True) if column == TIME_COLUMN
    ]
    if len(time_fields) > 1:
        raise PartitioningError(f"partition_by has {len(time_fields)} time transforms "
                                f"({', '.join(time_fields)}); keep one")  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for item, (column, transform) in zip(items, fields, strict=True):
        if (column, str(transform)) in seen:
            raise PartitioningError(f"partition_by names {item!r} twice")
        seen.add((column, str(transform)))
    return fields


def _parse_item(item: str, kinds: ColumnKinds) -> FieldRequest:
    call = _CALL.fullmatch(item.strip())
    if call is None:
        return _identity(item, kinds)
    name, number, column = call.group(1).lower(), call.group(2), call.group(3).strip('"')
    if name.rstrip("s") in _TIME_TRANSFORMS and number is None:
        if column != TIME_COLUMN:
            raise PartitioningError(f"partition_by {item!r}: {name} applies to time only")
        return column, _TIME_TRANSFORMS[name.rstrip("s")]()
    if name in _TAG_TRANSFORMS and number is not None:
        _check_tag(item, column, kinds)
        size = int(number)
        if not 1 <= size <= MAX_BUCKETS:
            raise PartitioningError(f"partition_by {item!r}: {size} is not in 1..{MAX_BUCKETS}")
        return column, _TAG_TRANSFORMS[name](size)
    raise PartitioningError(
        f"partition_by {item!r}: expected year|month|day|hour(time), bucket(N, tag), "
        "truncate(W, tag) or a tag name"
    )


def _identity(item: str, kinds: ColumnKinds) -> FieldRequest:
    if item == TIME_COLUMN:
        raise PartitioningError("partition_by 'time': one partition per microsecond; "
                                "use year, month, day or hour(time)")  # fmt: skip
    _check_tag(item, item, kinds)
    return item, IdentityTransform()


def _check_tag(item: str, column: str, kinds: ColumnKinds) -> None:
    kind = kinds.get(column)
    if kind is None:
        raise PartitioningError(f"partition_by {item!r}: the table has no tag {column!r}")
    if kind != ColumnRole.TAG:
        raise PartitioningError(f"partition_by {item!r}: {column!r} is a field; "
                                "only time and tags can partition a table")  # fmt: skip


def describe(spec: PartitionSpec, schema: Schema) -> list[str]:
    """A spec in the words ``parse_partition_by`` reads (``["day(time)"]``)."""
    words = []
    for spec_field in spec.fields:
        column = schema.find_column_name(spec_field.source_id) or f"#{spec_field.source_id}"
        transform = spec_field.transform
        if isinstance(transform, IdentityTransform):
            words.append(column)
        elif isinstance(transform, BucketTransform):
            words.append(f"bucket({transform.num_buckets}, {column})")
        elif isinstance(transform, TruncateTransform):
            words.append(f"truncate({transform.width}, {column})")
        else:
            words.append(f"{transform}({column})")
    return words


def evolve_spec(tx: Transaction, current: PartitionSpec, schema: Schema,
                wanted: list[FieldRequest]) -> None:  # fmt: skip
    """Make the table's spec ``wanted`` in ``tx``: drop the fields it lacks, add the rest.

    A spec the table had before is made current again under its old id (Iceberg's rule).
    """
    have = {(schema.find_column_name(f.source_id), str(f.transform)): f for f in current.fields}
    keys = {(column, str(transform)) for column, transform in wanted}
    try:
        with tx.update_spec() as update:
            for key, spec_field in have.items():
                if key not in keys:
                    update.remove_field(spec_field.name)
            for column, transform in wanted:
                if (column, str(transform)) not in have:
                    update.add_field(column, transform)
    except ValueError as error:
        raise PartitioningError(
            f"cannot partition by {describe_requests(wanted)}: {error}"
        ) from None


def describe_requests(wanted: list[FieldRequest]) -> str:
    """``[("time", DayTransform())]`` as ``day(time)`` (for messages)."""
    return ", ".join(f"{transform}({column})" for column, transform in wanted) or "nothing"


def standalone_partitioning(kinds: ColumnKinds, partition_by: Sequence[str]) -> Partitioning:
    """The partitioning a new table of these columns would have, without a catalog.

    For splitting outside a table (benchmarks, tests): the same spec ``set_partition_by``
    would build, with Iceberg's default field names (``time_day``, ``host_bucket_4``).
    """
    schema = assign_fresh_schema_ids(_pyarrow_to_schema_without_ids(file_schema(kinds)))
    fields = []
    for offset, (column, transform) in enumerate(parse_partition_by(partition_by, kinds)):
        source = schema.find_field(column)
        fields.append(
            PartitionField(source.field_id, PARTITION_FIELD_ID_START + offset, transform,
                           _default_name(column, transform))
        )  # fmt: skip
    spec = PartitionSpec(*fields, spec_id=0)
    return Partitioning(spec, schema, is_keyed(spec, schema, kinds))


def _default_name(column: str, transform: Transform[Any, Any]) -> str:
    if isinstance(transform, IdentityTransform):
        return column
    if isinstance(transform, BucketTransform):
        return f"{column}_bucket_{transform.num_buckets}"
    if isinstance(transform, TruncateTransform):
        return f"{column}_trunc_{transform.width}"
    return f"{column}_{transform}"
