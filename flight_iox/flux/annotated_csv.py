"""Flux tables as InfluxDB 2 writes them: annotated CSV (RFC 4180, CRLF line ends).

Each run of tables with the same columns, types and group key gets one block: the
``#datatype``, ``#group`` and ``#default`` rows the dialect asks for, then the header
``,result,table,<columns>``, then the rows; a blank line separates blocks, and ends
each result (so an empty answer is one blank line).
With the ``default`` annotation the ``result`` column is empty in rows (its default says
the name), as Flux's encoder writes it. Values are formatted column-wise with Arrow
kernels: times as RFC 3339 with nanoseconds and no trailing zeros, floats without an
exponent (Go's ``strconv.FormatFloat(f, 'f', -1, 64)``), fields quoted only when they
hold the delimiter, a quote, a line break or start with a space (Go's ``encoding/csv``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.errors import BadRequestError

CRLF = "\r\n"
ANNOTATIONS = ("datatype", "group", "default")
# Columns a table keeps even when all null (every other all-null column is a tag the
# table's series does not have, which Flux does not show).
RUN_ROWS = 65_536  # rows formatted (and sent) per chunk at most, about
ALWAYS_SHOWN = frozenset(("_start", "_stop", "_time", "_value", "_field", "_measurement"))


@dataclass(frozen=True)
class Dialect:
    """The ``dialect`` of a query request (InfluxDB 2's defaults when absent)."""

    header: bool = True
    delimiter: str = ","
    annotations: tuple[str, ...] = ()
    time_format: str = "RFC3339"

    @classmethod
    def of(cls, value: object) -> Dialect:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise BadRequestError("'dialect' must be a JSON object")
        annotations = value.get("annotations") or []
        if not isinstance(annotations, list) or any(a not in ANNOTATIONS for a in annotations):
            raise BadRequestError(f"dialect annotations must be a list of {', '.join(ANNOTATIONS)}")
        delimiter = value.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
            raise BadRequestError("dialect delimiter must be one character")
        time_format = value.get("dateTimeFormat", "RFC3339")
        if time_format not in ("RFC3339", "RFC3339Nano"):
            raise BadRequestError("dialect dateTimeFormat must be RFC3339 or RFC3339Nano")
        header = value.get("header", True)
        if not isinstance(header, bool):
            raise BadRequestError("dialect header must be true or false")
        return cls(
            header, delimiter, tuple(a for a in ANNOTATIONS if a in annotations), time_format
        )


def datatype(arrow: pa.DataType, time_format: str) -> str:
    """The ``#datatype`` name of an Arrow type."""
    if pa.types.is_floating(arrow):
        return "double"
    if pa.types.is_unsigned_integer(arrow):
        return "unsignedLong"
    if pa.types.is_integer(arrow):
        return "long"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_timestamp(arrow):
        return f"dateTime:{time_format}"
    if pa.types.is_duration(arrow):
        return "duration"
    return "string"


class Writer:
    """Encodes results block by block; one instance per response."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.wrote = False

    def result(
        self, name: str, tables: Iterable[tuple[Sequence[str], pa.Table]]
    ) -> Iterator[bytes]:
        """The CSV of one result: ``tables`` are its Flux tables (group key, rows) in order.

        Consecutive tables with one schema share a block, and their rows are formatted
        together, so many small tables cost one Arrow pass, not one each.
        """
        previous: tuple | None = None
        self.wrote = False  # the first block of a result follows no blank line
        run: list[pa.Table] = []
        run_ids: list[int] = []
        rows = 0
        for table_id, (key, data) in enumerate(tables):
            table = _shown(data)
            signature = tuple((f.name, str(f.type), f.name in key) for f in table.schema)
            if run and (signature != previous or rows >= RUN_ROWS):
                yield self._rows(name, run, run_ids)
                run, run_ids, rows = [], [], 0
            if signature != previous:
                yield self._block(name, table.schema, key)
                previous = signature
            run.append(table)
            run_ids.append(table_id)
            rows += table.num_rows
        if run:
            yield self._rows(name, run, run_ids)
        yield CRLF.encode()  # every result ends with a blank line, even an empty one
        self.wrote = False

    def _block(self, name: str, schema: pa.Schema, key: Sequence[str]) -> bytes:
        sep = self.dialect.delimiter
        lines = []
        if self.wrote:
            lines.append("")
        self.wrote = True
        if "datatype" in self.dialect.annotations:
            types = [datatype(f.type, self.dialect.time_format) for f in schema]
            lines.append(sep.join(["#datatype", "string", "long", *types]))
        if "group" in self.dialect.annotations:
            flags = ["true" if f.name in key else "false" for f in schema]
            lines.append(sep.join(["#group", "false", "false", *flags]))
        if "default" in self.dialect.annotations:
            lines.append(sep.join(["#default", _quoted(name, sep), "", *([""] * len(schema))]))
        if self.dialect.header:
            lines.append(sep.join(["", "result", "table", *(_quoted(f.name, sep) for f in schema)]))
        return (CRLF.join(lines) + CRLF).encode()

    def _rows(self, name: str, tables: list[pa.Table], ids: list[int]) -> bytes:
        data = pa.concat_tables(tables)
        sep = self.dialect.delimiter
        n = data.num_rows
        counts = [t.num_rows for t in tables]
        id_column = pa.array(np.repeat(np.array(ids, dtype=np.int64), counts)).cast(pa.string())
        result = "" if "default" in self.dialect.annotations else _quoted(name, sep)
        columns = [pa.array([""] * 1).take(pa.array(np.zeros(n, dtype=np.int32)))]
        columns.append(pa.array([result]).take(pa.array(np.zeros(n, dtype=np.int32))))
        columns.append(id_column)
        columns += [
            format_column(data.column(i).combine_chunks(), sep) for i in range(data.num_columns)
        ]
        lines = pc.binary_join_element_wise(
            *columns, sep, null_handling="replace", null_replacement=""
        )
        lines = pc.binary_join_element_wise(lines, CRLF, "")
        return _buffer_text(lines)

    def error(self, message: str) -> bytes:
        """The ``error,reference`` table InfluxDB 2 writes when a query fails mid-stream."""
        sep = self.dialect.delimiter
        lines = [""] if self.wrote else []  # mid-result: end its last block first
        if "datatype" in self.dialect.annotations:
            lines.append(sep.join(["#datatype", "string", "string"]))
        if "group" in self.dialect.annotations:
            lines.append(sep.join(["#group", "true", "true"]))
        if "default" in self.dialect.annotations:
            lines.append(sep.join(["#default", "", ""]))
        lines.append(sep.join(["", "error", "reference"]))
        lines.append(sep.join(["", _quoted(message, sep), ""]))
        self.wrote = True
        return (CRLF.join(lines) + CRLF).encode()


def table_starts(data: pa.Table, key: Sequence[str]) -> np.ndarray:
    """The first row of each table in rows sorted by ``key``: where any key value changes."""
    n = data.num_rows
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for name in key:
        column = data.column(name).combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        a, b = column.slice(0, n - 1), column.slice(1)
        differs = pc.fill_null(pc.not_equal(a, b), False)
        differs = pc.or_(differs, pc.xor(pc.is_null(a), pc.is_null(b)))
        change[1:] |= differs.to_numpy(zero_copy_only=False)
    return np.flatnonzero(change)


def _shown(table: pa.Table) -> pa.Table:
    hidden = [
        f.name
        for f in table.schema
        if f.name not in ALWAYS_SHOWN and table.column(f.name).null_count == table.num_rows
    ]
    return table.drop_columns(hidden) if hidden else table


def format_column(column: pa.Array, sep: str) -> pa.Array:
    """One column's CSV text (nulls stay null: written empty)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind):
        return format_time(column)
    if pa.types.is_floating(kind):
        return format_float(column)
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return column.cast(pa.string())
    if pa.types.is_duration(kind):
        return column.cast(pa.int64()).cast(pa.string())
    text = column.cast(pa.string())
    pattern = "[" + re.escape(sep) + '"\r\n]|^\\s'
    needs = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def format_time(column: pa.Array) -> pa.Array:
    """RFC 3339 in UTC with the fraction's trailing zeros dropped (Go's RFC3339Nano).

    numpy formats the seconds (Arrow's ``strftime`` and a regex strip cost 25x more);
    the fraction, when there is one, is the nanoseconds zero-padded then right-trimmed.
    """
    nanos = column.cast(pa.timestamp("ns")).cast(pa.int64())
    filled = pc.fill_null(nanos, 0).to_numpy(zero_copy_only=False)
    seconds = np.floor_divide(filled, 1_000_000_000)
    text = pa.array(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"))
    fraction = filled - seconds * 1_000_000_000
    if fraction.any():
        digits = pc.utf8_rtrim(pc.utf8_lpad(pa.array(fraction).cast(pa.string()), 9, "0"), "0")
        dotted = pc.binary_join_element_wise(text, digits, ".")
        text = pc.if_else(pa.array(fraction != 0), dotted, text)
    text = pc.binary_join_element_wise(text, "Z", "")
    if nanos.null_count:
        text = pc.if_else(pc.is_null(nanos), pa.scalar(None, pa.string()), text)
    return text


def format_float(column: pa.Array) -> pa.Array:
    """Go's 'f' format: no exponent, the shortest digits; ``+Inf``, ``-Inf``, ``NaN``."""
    text = column.cast(pa.float64()).cast(pa.string())
    special = pc.fill_null(pc.match_substring_regex(text, "[eni]"), False)
    if not pc.any(special).as_py():
        return text
    indices = np.flatnonzero(special.to_numpy(zero_copy_only=False))
    values = column.take(pa.array(indices)).to_numpy(zero_copy_only=False)
    fixed = pa.array([_go_float(float(v)) for v in values])  # rare values only
    return pc.replace_with_mask(text, special, fixed)


def _go_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def _quoted(text: str, sep: str) -> str:
    if any(c in text for c in (sep, '"', "\r", "\n")) or (text[:1].isspace()):
        return '"' + text.replace('"', '""') + '"'
    return text


def _buffer_text(lines: pa.Array) -> bytes:
    """The concatenated values of a string array, read straight from its data buffer."""
    lines = lines.cast(pa.string())
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2]
    assert data is not None
    return data.to_pybytes()[offsets[0] : offsets[-1]]
