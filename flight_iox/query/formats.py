"""Result formats for HTTP and the CLI: json, jsonl, csv, pretty, parquet.

Each formatter turns a ``RecordBatchReader`` into an iterator of byte chunks,
one or more per record batch, so results stream. ``pretty`` is the exception:
column widths need every row, so it reads the whole result first.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flight_iox.errors import BadRequestError
from flight_iox.query.json_rows import iso_text, json_rows

# json_rows costs about 0.9 ms per batch in compute calls whatever its size; row by row costs
# about 3 us a row: below this many rows a batch is encoded row by row.
COLUMNWISE_MIN_ROWS = 256
# One encoder for every row: json.dumps(default=...) builds a new encoder per call.
_ENCODER = json.JSONEncoder(default=str)


def _jsonable(batch: pa.RecordBatch) -> list[dict[str, object]]:
    """Rows as dicts, timestamps as ISO-8601 text and dictionaries decoded."""
    columns = []
    for column in batch.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            column = iso_text(column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pylist()


def json_objects(batch: pa.RecordBatch, terminator: str) -> bytes:
    """Each row of ``batch`` as a JSON object followed by ``terminator``.

    Column-wise (``json_rows``) from ``COLUMNWISE_MIN_ROWS`` rows on; row by row for smaller
    batches and for types or text ``json_rows`` does not print.
    """
    text = json_rows(batch, terminator) if batch.num_rows >= COLUMNWISE_MIN_ROWS else None
    return text if text is not None else json_objects_row_by_row(batch, terminator)


def json_objects_row_by_row(batch: pa.RecordBatch, terminator: str) -> bytes:
    """``json_objects`` one Python dict at a time (``json.dumps`` spacing and escapes)."""
    return "".join(_ENCODER.encode(row) + terminator for row in _jsonable(batch)).encode()


def _json(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    # "[" goes out with the first rows, not before: the HTTP layer reads the first chunk
    # before it answers, so an error while executing still gets a status of its own.
    opening = b"["
    for batch in reader:
        if batch.num_rows == 0:
            continue
        yield opening + json_objects(batch, ",")[:-1]  # the last row's ","
        opening = b","
    yield b"]" if opening == b"," else b"[]"


def _jsonl(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    for batch in reader:
        if batch.num_rows:
            yield json_objects(batch, "\n")


def _csv(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    sink = io.BytesIO()
    plain = pa.schema(
        pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
        for f in reader.schema
    )
    with pacsv.CSVWriter(sink, plain) as writer:
        for batch in reader:
            writer.write_batch(batch.cast(plain))
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    if sink.getvalue():
        yield sink.getvalue()


def _parquet(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()


def pretty_table(table: pa.Table) -> str:
    """An ASCII table of the kind InfluxDB 3 and psql print."""
    names = table.schema.names
    rows = [[_cell(v) for v in row.values()] for row in _jsonable_table(table)]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"

    out = [rule, line(names), rule, *(line(r) for r in rows), rule] if names else []
    return "\n".join(out) + "\n"


def _jsonable_table(table: pa.Table) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for batch in table.to_batches():
        rows.extend(_jsonable(batch))
    return rows


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _pretty(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    yield pretty_table(reader.read_all()).encode()


@dataclass(frozen=True)
class Format:
    """A result format: its media type and its streaming encoder."""

    name: str
    media_type: str
    encode: Callable[[pa.RecordBatchReader], Iterator[bytes]]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("json", "application/json", _json),
        Format("jsonl", "application/jsonl", _jsonl),
        Format("csv", "text/csv; charset=utf-8", _csv),
        Format("pretty", "text/plain; charset=utf-8", _pretty),
        Format("parquet", "application/vnd.apache.parquet", _parquet),
    )
}

_MEDIA_TYPES = {
    "application/json": "json",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/plain": "pretty",
    "application/vnd.apache.parquet": "parquet",
}


def choose_format(name: str | None, accept: str | None) -> Format:
    """The format named by a ``format`` parameter, else by ``Accept``, else json."""
    if name:
        try:
            return FORMATS[name.lower()]
        except KeyError:
            raise BadRequestError(
                f"unknown format {name!r}: use one of {', '.join(FORMATS)}"
            ) from None
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _MEDIA_TYPES:
            return FORMATS[_MEDIA_TYPES[media]]
    return FORMATS["json"]
