"""JSON objects for the rows of a record batch, built a column at a time with pyarrow compute.

Every column becomes the text of its values (numbers, ``true``/``false``, quoted and escaped
strings, ISO-8601 times, ``null``), prefixed with its quoted name; one element-wise join
makes each row's ``{...}``, and the string array's data buffer is the answer, so no Python
runs per row. Floats are printed by Arrow (shortest round trip; an integral value keeps a
``.0`` so clients read a float); NaN and infinities as Python's ``json`` prints them. Text is
UTF-8, not ``\\u`` escapes. A batch with a column of another type, or with a string holding
a control character JSON has no short escape for, gets ``None``: the caller encodes it row by
row instead.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ESCAPES = [
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
]
_OTHER_CONTROL = r"[\x00-\x1f]"
_FLOAT_WORDS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def iso_text(column: pa.Array) -> pa.Array:
    """ISO-8601 text with 0, 3, 6 or 9 fraction digits, as InfluxDB 3 (arrow-json) prints."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.unit == "ns" and kind.tz is None:
        fast = _nanosecond_iso_text(column)
        if fast is not None:
            return fast
    text = pc.replace_substring(column.cast(pa.string()), " ", "T", max_replacements=1)
    text = pc.replace_substring_regex(text, r"\.(000){1,3}$", "")  # whole seconds
    text = pc.replace_substring_regex(text, r"(\.\d{3})000000$", r"\1")  # ns on a ms
    text = pc.replace_substring_regex(text, r"(\.\d{3})000$", r"\1")  # us on a ms
    return pc.replace_substring_regex(text, r"(\.\d{6})000$", r"\1")  # ns on a us


def _nanosecond_iso_text(column: pa.Array) -> pa.Array | None:
    """``iso_text`` for naive nanosecond times, by slicing instead of regular expressions.

    Arrow prints them as ``YYYY-MM-DD HH:MM:SS.fffffffff`` (29 characters, years 1000-9999);
    the fraction is cut to 0, 3, 6 or 9 digits from the nanoseconds' remainders. None when
    some value prints otherwise.
    """
    text = column.cast(pa.string())
    lengths = pc.min_max(pc.utf8_length(text))
    if lengths["min"].as_py() != 29 or lengths["max"].as_py() != 29:
        return None
    text = pc.binary_replace_slice(text, 10, 11, "T")
    fraction = column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False) % 10**9
    whole = pa.array(fraction == 0)
    millis = pa.array(fraction % 10**6 == 0)
    micros = pa.array(fraction % 10**3 == 0)
    cut = [pc.utf8_slice_codeunits(text, 0, length) for length in (19, 23, 26)]
    return pc.case_when(pc.make_struct(whole, millis, micros), *cut, text)


def _quoted(text: pa.Array) -> pa.Array | None:
    for raw, escaped in _ESCAPES:
        text = pc.replace_substring(text, raw, escaped)
    if pc.any(pc.match_substring_regex(text, _OTHER_CONTROL)).as_py():
        return None
    return pc.binary_join_element_wise('"', text, '"', "")


def _float_text(column: pa.Array) -> pa.Array:
    values = column if column.type == pa.float64() else column.cast(pa.float64())
    text = values.cast(pa.string())
    # Arrow prints 1.0 as "1": keep the ".0" (nan and inf have an "n", so they are left alone).
    printed_as_float = pc.match_substring_regex(text, "[.en]")
    text = pc.if_else(printed_as_float, text, pc.binary_join_element_wise(text, ".0", ""))
    if not np.isfinite(values.to_numpy(zero_copy_only=False)).all():
        for word, spelled in _FLOAT_WORDS.items():
            text = pc.if_else(pc.equal(text, word), spelled, text)
    return text


def value_text(column: pa.Array) -> pa.Array | None:
    """The JSON text of each value (nulls stay null); None for an unsupported type."""
    kind = column.type
    if pa.types.is_dictionary(kind):  # the text of each distinct value, then one take
        if column.null_count == len(column):
            return pa.nulls(len(column), pa.string())
        distinct = value_text(column.dictionary)
        return None if distinct is None else distinct.take(column.indices)
    if column.null_count > 0 and not pa.types.is_null(kind):
        return _valid_only(column)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _quoted(iso_text(column))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _quoted(column.cast(pa.string()))
    if pa.types.is_string_view(kind):
        return _quoted(column.cast(pa.string()))
    if pa.types.is_floating(kind):
        return _float_text(column)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return column.cast(pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    return None


def _valid_only(column: pa.Array) -> pa.Array | None:
    """``value_text`` computed for the non-null values only, then put back in place.

    Sparse columns (InfluxQL's empty buckets, fields a series lacks) cost what their
    values cost, not what their rows do.
    """
    if column.null_count == len(column):
        return pa.nulls(len(column), pa.string())
    text = value_text(column.drop_null())
    if text is None:
        return None
    present = pc.is_valid(column).to_numpy(zero_copy_only=False)
    positions = np.cumsum(present, dtype=np.int64) - 1
    return text.take(pa.array(positions, mask=~present))


def json_rows(batch: pa.RecordBatch, terminator: str) -> bytes | None:
    """Each row of ``batch`` as a JSON object followed by ``terminator``; None to fall back."""
    if batch.num_columns == 0:
        return ("{}" + terminator).encode() * batch.num_rows
    parts: list[object] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        text = value_text(column)
        if text is None:
            return None
        parts += ["," + json.dumps(name) + ":", text.fill_null("null")]
    parts[0] = "{" + str(parts[0])[1:]
    rows = pc.binary_join_element_wise(*parts, "}" + terminator, "")
    return _concatenated(rows)


def _concatenated(strings: pa.Array) -> bytes:
    """The values of a string array, one after another (its data buffer, no copies per row)."""
    if len(strings) == 0:
        return b""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    first, last = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return strings.buffers()[2].slice(int(first), int(last - first)).to_pybytes()
