"""How a view reads a data file's columns in the data model's types (``tables.py``)."""

from __future__ import annotations

import pyarrow as pa

from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, FieldType
from flight_iox.sql_quote import quote_identifier as q
from iox_catalog.files import DataFile
from iox_catalog.schema import REMAINDER_COLUMN

CAST_NAMES: dict[pa.DataType, str] = {
    TAG_TYPE: "Dictionary(Int32, Utf8)",
    TIME_TYPE: "Timestamp(Nanosecond, None)",
    **{kind.arrow_type: kind.datafusion_type for kind in FieldType},
}


def cast_sql(expression: str, data_type: pa.DataType) -> str:
    """``expression`` cast to ``data_type`` in DataFusion's spelling of the type."""
    return f"arrow_cast({expression}, '{CAST_NAMES[data_type]}')"


def time_expression(file: DataFile) -> str:
    """Exact nanoseconds from the file's microseconds (plus the remainder, when it has one).

    Never a plain ``CAST(time AS Timestamp(ns))``: DataFusion 55 "unwraps" a comparison
    with such a cast by truncating the literal to microseconds, so ``time < 210000000001``
    would become ``time_us < 210000000`` and drop the row at 210000000000 ns, in the filter
    and the row-group pruning alike; integer arithmetic is never unwrapped."""
    nanos = f"arrow_cast({q(TIME_COLUMN)}, 'Int64') * 1000"
    if file.has_remainder:
        nanos += f" + arrow_cast({q(REMAINDER_COLUMN)}, 'Int64')"
    return cast_sql(nanos, pa.timestamp("ns"))


def read_field(found: pa.Field, schema: pa.Schema) -> pa.Field:
    """The type to read a file column as: the model's tag type, plain utf8 for strings."""
    index = schema.get_field_index(found.name)
    model = schema.field(index) if index >= 0 else None
    if model is not None and pa.types.is_dictionary(model.type):
        return pa.field(found.name, model.type)
    if pa.types.is_string_view(found.type) or pa.types.is_large_string(found.type):
        return pa.field(found.name, pa.string())
    return found
