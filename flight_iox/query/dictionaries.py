"""Dictionary-encoded (tag) columns read as plain values, looking up only the rows' entries.

Tags come out of the buffer and the Parquet files dictionary-encoded; result encoders,
InfluxQL's series steps and IOx's gap filling need their values.
"""

from __future__ import annotations

import pyarrow as pa


def decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A dictionary column as plain values (other columns as they are).

    Only the entries the rows use are looked up: a cast would decode the whole dictionary
    first, and a few rows cut from a big result can carry a dictionary far longer than
    themselves.
    """
    if not pa.types.is_dictionary(column.type):
        return column
    if isinstance(column, pa.ChunkedArray):
        value_type = column.type.value_type
        return pa.chunked_array([decoded(chunk) for chunk in column.chunks], value_type)
    return column.dictionary.take(column.indices)
