"""A written Parquet file's footer, read and given one more key-value entry.

The footer (Thrift ``FileMetaData``) is the file's last part: its length and the magic
follow it, and nothing points into it. An entry appended to its key-value list (field 5)
through ``thrift_compact`` leaves every other byte as pyarrow wrote it. pyarrow's own
``ParquetWriter.add_key_value_metadata`` merges keys, which drops one of the two
``ARROW:schema`` entries every data file stores (``parquet_files.StoredSchema.SPLIT``).
"""

from __future__ import annotations

import struct

from flight_iox.persist.thrift_compact import (
    BINARY,
    STRUCT,
    ThriftError,
    ThriftList,
    ThriftStruct,
    encode,
    read_struct,
)

MAGIC = b"PAR1"
KEY_VALUE_METADATA = 5  # FileMetaData's field: list<KeyValue{1: key, 2: value}>


def parquet_footer(data: bytes) -> tuple[ThriftStruct, int]:
    """The footer of the Parquet file ``data``, and where it starts (``ThriftError``)."""
    if data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ThriftError("not a plain Parquet file")
    length = struct.unpack("<I", data[-8:-4])[0]
    start = len(data) - 8 - length
    footer, _ = read_struct(data[start:-8])
    return footer, start


def with_footer_entry(data: bytes, key: bytes, value: bytes) -> bytes:
    """``data`` with the entry ``key``: ``value`` added to its footer's key-value list
    (``ThriftError`` when the footer has none: pyarrow always writes one with the schema)."""
    footer, start = parquet_footer(data)
    entries = footer.get(KEY_VALUE_METADATA)
    if not isinstance(entries, ThriftList) or entries.element_type != STRUCT:
        raise ThriftError("the footer has no key-value list")
    entries.items.append(ThriftStruct({1: (BINARY, key), 2: (BINARY, value)}))
    tail = encode(footer)
    return data[:start] + tail + struct.pack("<I", len(tail)) + MAGIC
