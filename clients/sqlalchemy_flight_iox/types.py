"""Arrow types to SQLAlchemy types, and back for ingest.

flight-iox tables hold dictionary-encoded tags, float64/int64/uint64/bool/utf8
fields and a nanosecond ``time``; the engine's own tables add a few more types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeEngine

from sqlalchemy_flight_iox.compat import Double


class UInt64(sqltypes.BigInteger):
    """An unsigned 64-bit integer (an InfluxDB ``unsigned`` field)."""

    __visit_name__ = "UINT64"


_FIXED: dict[pa.DataType, Callable[[], TypeEngine[Any]]] = {
    pa.int8(): sqltypes.SmallInteger,
    pa.int16(): sqltypes.SmallInteger,
    pa.int32(): sqltypes.Integer,
    pa.int64(): sqltypes.BigInteger,
    pa.uint8(): sqltypes.SmallInteger,
    pa.uint16(): sqltypes.Integer,
    pa.uint32(): sqltypes.BigInteger,
    pa.uint64(): UInt64,
    pa.float16(): sqltypes.Float,
    pa.float32(): sqltypes.Float,
    pa.float64(): Double,
    pa.bool_(): sqltypes.Boolean,
    pa.string(): sqltypes.String,
    pa.large_string(): sqltypes.String,
    pa.binary(): sqltypes.LargeBinary,
    pa.large_binary(): sqltypes.LargeBinary,
    pa.date32(): sqltypes.Date,
    pa.date64(): sqltypes.Date,
    pa.null(): sqltypes.NullType,
}
if hasattr(pa, "string_view"):  # pyarrow >= 16; the dialect accepts older ones too
    _FIXED[pa.string_view()] = sqltypes.String


def sqlalchemy_type(data_type: pa.DataType) -> TypeEngine[Any]:
    """The SQLAlchemy type of an Arrow type (``NullType`` when there is none)."""
    if pa.types.is_dictionary(data_type):
        return sqlalchemy_type(data_type.value_type)
    if pa.types.is_timestamp(data_type):
        return sqltypes.DateTime(timezone=data_type.tz is not None)
    if pa.types.is_time(data_type):
        return sqltypes.Time()
    if pa.types.is_decimal(data_type):
        return sqltypes.Numeric(precision=data_type.precision, scale=data_type.scale)
    if pa.types.is_interval(data_type) or pa.types.is_duration(data_type):
        return sqltypes.Interval()
    factory = _FIXED.get(data_type)
    return factory() if factory is not None else sqltypes.NullType()


# SQLAlchemy type -> Arrow type for ingest, most specific first.
_TO_ARROW: list[tuple[type[TypeEngine[Any]], pa.DataType]] = [
    (UInt64, pa.uint64()),
    (sqltypes.Boolean, pa.bool_()),
    (sqltypes.BigInteger, pa.int64()),
    (sqltypes.Integer, pa.int64()),
    (sqltypes.Float, pa.float64()),
    (sqltypes.Numeric, pa.float64()),
    (sqltypes.DateTime, pa.timestamp("ns")),
    (sqltypes.Date, pa.date32()),
    (sqltypes.String, pa.string()),
    (sqltypes.LargeBinary, pa.binary()),
]


def arrow_type(type_: TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type values of a SQLAlchemy type are ingested as (None: let Arrow infer)."""
    for sa_type, data_type in _TO_ARROW:
        if isinstance(type_, sa_type):
            if isinstance(type_, sqltypes.DateTime) and type_.timezone:
                return pa.timestamp("ns", tz="UTC")
            return data_type
    return None
