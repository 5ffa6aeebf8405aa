"""Arrow tables in, ``MeasurementBatch`` out: the mapping for Arrow-native writers.

Flight SQL ingest and ``SELECT ... INTO`` hand over Arrow tables. This maps them
onto the line-protocol data model, so they share the one validated write path:

- ``time``: the column named ``time``, any timestamp unit (or int64 nanoseconds);
  it is required and may not hold nulls.
- tags: the columns named in ``tag_columns``; when none are named, every
  dictionary or string column (``utf8``, ``large_utf8``, ``utf8_view``).
- fields: every other column. ``float16/32/64`` become float, signed integers
  int64, unsigned integers uint64, ``bool`` boolean, strings string. Other types
  are refused with a message naming the column and its type.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN, FieldType
from flight_iox.errors import BadRequestError
from flight_iox.ingest import MeasurementBatch


def _is_text(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _is_tag_like(data_type: pa.DataType) -> bool:
    return pa.types.is_dictionary(data_type) or _is_text(data_type)


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array.cast(pa.string())


def _field_values(name: str, column: pa.ChunkedArray) -> pa.Array:
    kind = FieldType.widening(column.type)
    if pa.types.is_dictionary(column.type) or kind is FieldType.STRING:
        return _as_text(column)
    if kind is not None:
        return column.combine_chunks().cast(kind.arrow_type)
    raise BadRequestError(
        f'column "{name}" has type {column.type}, which is not a field type '
        "(float, integer, unsigned, boolean or string)"
    )


def _time_values(data: pa.Table) -> pa.Array:
    if TIME_COLUMN not in data.column_names:
        raise BadRequestError('the data has no "time" column (a timestamp column named time)')
    column = data.column(TIME_COLUMN)
    if column.null_count:
        raise BadRequestError('the "time" column has nulls; every row needs a time')
    if pa.types.is_timestamp(column.type):
        return column.combine_chunks().cast(pa.timestamp("ns")).view(pa.int64())
    if pa.types.is_integer(column.type):
        return column.combine_chunks().cast(pa.int64())
    raise BadRequestError(f'the "time" column has type {column.type}; expected a timestamp')


def measurement_batch_from_arrow(
    table: str, data: pa.Table, tag_columns: list[str] | None = None
) -> MeasurementBatch:
    """Map an Arrow table onto ``table``'s tags, fields and time (rows numbered from 1)."""
    names = data.column_names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # pyarrow cannot even look such a column up by name
        raise BadRequestError(f"column {repeated[0]!r} appears more than once in the data")
    if tag_columns is not None:
        unknown = sorted(set(tag_columns) - set(data.column_names))
        if unknown:
            raise BadRequestError(f"tag columns not in the data: {', '.join(unknown)}")
        tag_set = set(tag_columns)
    else:
        tag_set = {f.name for f in data.schema if _is_tag_like(f.type)} - {TIME_COLUMN}
    times = _time_values(data)
    tags: dict[str, pa.Array] = {}
    fields: dict[str, pa.Array] = {}
    for name in data.column_names:
        if name == TIME_COLUMN:
            continue
        column = data.column(name)
        if name in tag_set:
            tags[name] = _as_text(column)
        else:
            fields[name] = _field_values(name, column)
    rows = pa.array(np.arange(1, data.num_rows + 1, dtype=np.int32))
    return MeasurementBatch(table, tags, fields, pc.cast(times, pa.int64()), rows)
