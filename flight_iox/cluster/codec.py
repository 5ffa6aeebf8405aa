"""What nodes send each other over Flight, as Arrow IPC with JSON in the schema metadata.

- A forwarded write: one ``MeasurementBatch`` as one record batch whose columns keep
  their roles in their names (``t:`` tags, ``f:`` fields, plus the time and the original
  line numbers), so the owner validates exactly what the first node parsed and its
  rejected lines come back with the numbers the client sent.
- Unpersisted rows: one table's buffered rows (data-model schema, roles in the field
  metadata as everywhere) with the file list the ingest node had at the same instant.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from flight_iox.ingest import MeasurementBatch
from iox_catalog.files import DataFile
from iox_catalog.partitioning import PartitionKey

TIME = "__time"
LINES = "__lines"
TAG, FIELD = "t:", "f:"


def ipc_bytes(table: pa.Table) -> bytes:
    """``table`` as one Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(data: bytes) -> pa.Table:
    """The table of one Arrow IPC stream."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def encode_batch(batch: MeasurementBatch, meta: dict[str, Any]) -> bytes:
    """One batch to forward, with ``meta`` (database, flags) in the schema metadata."""
    columns = {TIME: batch.time, LINES: batch.line_numbers}
    columns.update({TAG + k: v for k, v in batch.tags.items()})
    columns.update({FIELD + k: v for k, v in batch.fields.items()})
    table = pa.table(columns)
    meta = {**meta, "table": batch.measurement}
    return ipc_bytes(table.replace_schema_metadata({"iox": json.dumps(meta)}))


def decode_batch(data: bytes) -> tuple[MeasurementBatch, dict[str, Any]]:
    """The forwarded batch and its metadata."""
    table = read_ipc(data)
    meta = json.loads((table.schema.metadata or {})[b"iox"])
    tags, fields = {}, {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name.startswith(TAG):
            tags[name[len(TAG) :]] = column
        elif name.startswith(FIELD):
            fields[name[len(FIELD) :]] = column
    batch = MeasurementBatch(
        meta["table"],
        tags,
        fields,
        table.column(TIME).combine_chunks(),
        table.column(LINES).combine_chunks(),
    )
    return batch, meta


def _file_json(file: DataFile) -> dict[str, Any]:
    partition = file.partition
    return {
        "path": file.path, "records": file.record_count, "bytes": file.size_bytes,
        "min": file.min_time_us, "max": file.max_time_us, "seq": file.sequence_number,
        "rem": file.has_remainder,
        "part": None if partition is None
        else [partition.spec_id, list(partition.values), partition.keyed],
    }  # fmt: skip


def _file_of(raw: dict[str, Any]) -> DataFile:
    part = raw["part"]
    partition = None if part is None else PartitionKey(part[0], tuple(part[1]), part[2])
    return DataFile(
        raw["path"], raw["records"], raw["bytes"], raw["min"], raw["max"], raw["seq"],
        raw["rem"], partition,
    )  # fmt: skip


def encode_rows(
    table: str, rows: pa.Table, files: tuple[DataFile, ...], extra: dict[str, Any]
) -> bytes:
    """One table's unpersisted rows and the files its node knew at the same instant;
    ``extra``: whether that node owns the table, and its buffer version."""
    meta = {**extra, "table": table, "files": [_file_json(f) for f in files]}
    schema_meta = dict(rows.schema.metadata or {})
    schema_meta[b"iox"] = json.dumps(meta, default=str).encode()
    return ipc_bytes(rows.replace_schema_metadata(schema_meta))


def decode_rows(data: bytes) -> tuple[str, pa.Table, tuple[DataFile, ...], dict[str, Any]]:
    """The table name, its rows, the node's file list and the rest of the metadata."""
    rows = read_ipc(data)
    schema_meta = dict(rows.schema.metadata or {})
    meta = json.loads(schema_meta.pop(b"iox"))
    rows = rows.replace_schema_metadata(schema_meta or None)
    files = tuple(_file_of(f) for f in meta.pop("files"))
    return meta.pop("table"), rows, files, meta
