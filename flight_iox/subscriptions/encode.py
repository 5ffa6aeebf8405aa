"""Arrow batches back to line protocol, column by column (what subscriptions POST).

A WAL entry holds validated batches whose fields carry their roles; a destination speaks
line protocol, as InfluxDB 1.x's subscriber posts it. Each line is built with pyarrow
compute over whole columns, never row by row: the series key (measurement and the
non-empty tags, sorted by key), the field set (the non-null fields, typed as InfluxDB
writes them: ``1.5``, ``3i``, ``4u``, ``true``, ``"text"``), and the time in nanoseconds.

A row whose fields are all null (or non-finite floats, which line protocol cannot carry)
has nothing to send and is left out.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import ColumnRole, role_of

_STRING = pa.string()


def _escape(values: pa.Array, chars: str) -> pa.Array:
    for char in chars:
        values = pc.replace_substring(values, char, "\\" + char)
    return values


def _escape_name(name: str, chars: str) -> str:
    for char in chars:
        name = name.replace(char, "\\" + char)
    return name


def _as_strings(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return pc.cast(column, _STRING)


def _field_value(column: pa.Array) -> pa.Array:
    """A field's values as line protocol writes them (null where the row has none)."""
    kind = column.type
    if pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        return pc.if_else(finite, pc.cast(column, _STRING), pa.scalar(None, _STRING))
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_unsigned_integer(kind):
        return pc.binary_join_element_wise(pc.cast(column, _STRING), "u", "")
    if pa.types.is_integer(kind):
        return pc.binary_join_element_wise(pc.cast(column, _STRING), "i", "")
    text = _escape(_as_strings(column), '\\"')
    return pc.binary_join_element_wise('"', text, '"', "")


def encode_batch(measurement: str, batch: pa.RecordBatch) -> pa.Array:
    """One line-protocol line per row that has a field (without newlines)."""
    n = batch.num_rows
    if n == 0:
        return pa.array([], _STRING)
    key = pa.array([_escape_name(measurement, ", ")] * n, _STRING)
    tag_parts: list[pa.Array] = []
    field_parts: list[pa.Array] = []
    time_text: pa.Array | None = None
    for field, column in sorted(zip(batch.schema, batch.columns, strict=True), key=_by_name):
        role = role_of(field)
        if role is ColumnRole.TIME:
            time_text = pc.cast(pc.cast(column, pa.int64()), _STRING)
            continue
        name = _escape_name(field.name, ",= ")
        if role is ColumnRole.TAG:
            values = _as_strings(column)
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, _STRING), values)
            tag_parts.append(pc.binary_join_element_wise(f",{name}=", _escape(values, ",= "), ""))
        else:
            field_parts.append(pc.binary_join_element_wise(f",{name}=", _field_value(column), ""))
    if time_text is None or not field_parts:
        return pa.array([], _STRING)
    series = pc.binary_join_element_wise(
        key, *tag_parts, "", null_handling="replace", null_replacement=""
    )
    # Each present field as ",key=value", joined, then the first comma cut (pyarrow's
    # ``null_handling="skip"`` join drops rows whose values are all null).
    joined = pc.binary_join_element_wise(
        *field_parts, "", null_handling="replace", null_replacement=""
    )
    fields = pc.utf8_slice_codeunits(joined, 1)
    lines = pc.binary_join_element_wise(series, fields, time_text, " ")
    has_field = pc.not_equal(fields, "")
    return lines if pc.all(has_field).as_py() else lines.filter(has_field)


def _by_name(pair: tuple[pa.Field, pa.Array]) -> str:
    return pair[0].name


def encode_tables(tables: list[tuple[str, pa.RecordBatch]]) -> bytes:
    """The line-protocol body of several tables' batches, one line per row, newline-ended."""
    arrays = [encode_batch(name, batch) for name, batch in tables]
    lines = pa.concat_arrays([a for a in arrays if len(a)] or [pa.array([], _STRING)])
    if not len(lines):
        return b""
    whole = pc.binary_join(pa.ListArray.from_arrays([0, len(lines)], lines), "\n")
    return whole[0].as_py().encode() + b"\n"
