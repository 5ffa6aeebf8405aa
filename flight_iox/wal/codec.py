"""The payload of one WAL entry: a database name and one Arrow batch per table.

The WAL itself only frames opaque bytes (see ``log.py``); this module decides what
those bytes mean. A payload is a small fixed binary header followed by, for each
table, its name and the Arrow IPC *stream* of its batch. The IPC stream carries
the schema, so field metadata (the column roles of ``flight_iox.columns``),
schema metadata and dictionary types survive the round trip exactly::

    u8   codec version (1)
    u16  length of the database name, then the name (UTF-8)
    u32  number of tables
    per table:
        u16  length of the table name, then the name (UTF-8)
        u64  length of the IPC stream, then the stream (schema, dictionaries, one batch)

No compression by default: LZ4 roughly halves payloads of typical write batches
but costs more CPU per append than it saves in I/O (numbers in ``docs/wal.md``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pyarrow as pa

__all__ = ["TableWrite", "WalWrite", "decode_write", "encode_write"]

CODEC_VERSION = 1

_HEAD = struct.Struct("<BH")  # codec version, database name length
_COUNT = struct.Struct("<I")  # number of tables
_NAME = struct.Struct("<H")  # table name length
_BLOB = struct.Struct("<Q")  # IPC stream length


@dataclass(frozen=True)
class TableWrite:
    """The validated rows written to one table; columns carry role metadata."""

    table: str
    batch: pa.RecordBatch


@dataclass(frozen=True)
class WalWrite:
    """Everything one write request adds to one database, logged as one entry."""

    database: str
    tables: list[TableWrite]


def _ipc_stream(batch: pa.RecordBatch, options: pa.ipc.IpcWriteOptions) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def _name_bytes(name: str, what: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"{what} name is {len(raw)} bytes, over the 65535 a WAL entry holds")
    return raw


def encode_write(write: WalWrite, *, compression: str | None = None) -> bytes:
    """Encode a write as the payload of one WAL entry.

    ``compression`` is an Arrow IPC body codec (``"lz4"`` or ``"zstd"``); the
    reader detects it from the stream, so entries may mix codecs.
    """
    options = pa.ipc.IpcWriteOptions(compression=compression)
    database = _name_bytes(write.database, "database")
    parts: list[bytes | pa.Buffer] = [
        _HEAD.pack(CODEC_VERSION, len(database)),
        database,
        _COUNT.pack(len(write.tables)),
    ]
    for table_write in write.tables:
        table = _name_bytes(table_write.table, "table")
        stream = _ipc_stream(table_write.batch, options)
        parts += [_NAME.pack(len(table)), table, _BLOB.pack(stream.size), stream]
    return b"".join(parts)


def _read(view: memoryview, offset: int, length: int) -> tuple[memoryview, int]:
    end = offset + length
    if end > len(view):
        raise ValueError(f"WAL payload truncated: needs {end} bytes, has {len(view)}")
    return view[offset:end], end


def decode_write(payload: bytes) -> WalWrite:
    """Decode a payload made by :func:`encode_write` back into the same write."""
    view = memoryview(payload)
    head, offset = _read(view, 0, _HEAD.size)
    version, db_len = _HEAD.unpack(head)
    if version != CODEC_VERSION:
        raise ValueError(f"WAL payload codec version {version}, expected {CODEC_VERSION}")
    raw_db, offset = _read(view, offset, db_len)
    raw_count, offset = _read(view, offset, _COUNT.size)
    (count,) = _COUNT.unpack(raw_count)
    buffer = pa.py_buffer(payload)
    tables: list[TableWrite] = []
    for _ in range(count):
        raw_len, offset = _read(view, offset, _NAME.size)
        raw_table, offset = _read(view, offset, _NAME.unpack(raw_len)[0])
        raw_size, offset = _read(view, offset, _BLOB.size)
        (size,) = _BLOB.unpack(raw_size)
        _read(view, offset, size)  # bounds check only; the stream is read zero-copy below
        stream = buffer.slice(offset, size)
        if stream.address % 8:  # names before it shift it; Arrow (Acero) wants aligned buffers
            stream = pa.py_buffer(stream.to_pybytes())
        reader = pa.ipc.open_stream(stream)
        batch = reader.read_next_batch()
        offset += size
        tables.append(TableWrite(str(raw_table, "utf-8"), batch))
    if offset != len(view):
        raise ValueError(f"WAL payload has {len(view) - offset} bytes after its last table")
    return WalWrite(str(raw_db, "utf-8"), tables)
