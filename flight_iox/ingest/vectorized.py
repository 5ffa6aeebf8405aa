"""The bulk fast path: parse every "simple" line at once with numpy and Arrow kernels.

A simple line is ``series-key fields[ timestamp]`` with single spaces, no
backslash, quote or control character, and tokens that hold no delimiter. Each
line splits at its (one or two) spaces into three spans. Series keys repeat, so
they are dictionary-encoded and only the distinct ones are parsed (``series.py``).
The ``=`` and ``,`` positions of the body give each field's key and value spans,
and lines that repeat the first line's keys are recognised in bulk; when every line
repeats them, the ``,`` are not even looked for (``fields.py``). Values are typed by
their first and last byte and cast per kind in bulk (``values.py``). Spans go to
kernels without copies (``spans.py``). Lines that break the grammar, or whose values
do not cast, go back to the caller for the exact parser. Python loops here run once
per distinct measurement, key, column or kind, never per line.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.ingest.fields import FieldTokens
from flight_iox.ingest.pieces import PieceSink
from flight_iox.ingest.series import parse_series_keys
from flight_iox.ingest.spans import even, spans
from flight_iox.ingest.values import INTEGER, KINDS, UNKNOWN, UNSIGNED, classify, typed

_SUFFIXED = np.array([kind in (INTEGER, UNSIGNED) for kind in KINDS] + [False])


def parse_simple_lines(
    buffer: pa.Buffer,
    data: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    spaces: tuple[np.ndarray, np.ndarray],
    line_numbers: np.ndarray,
    sink: PieceSink,
    scratch: np.ndarray,
) -> np.ndarray:
    """Parse the given candidate lines into ``sink``; return the line numbers it gave up on.

    ``starts``/``ends`` bound each line's content (no line ending); ``spaces`` are the
    positions of each line's first and second space (-1: none). Times go to the sink
    raw (in the body's unit). ``scratch`` is a bool array as long as ``data``.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    first_space, second_space = spaces
    has_time = second_space >= 0
    field_end = np.where(has_time, second_space, ends)

    series_keys = pc.dictionary_encode(spans(buffer, starts, first_space))
    series_code = even(series_keys.indices)
    series = parse_series_keys(series_keys.dictionary)
    bad = ~series.valid[series_code]
    measurement = series.measurement[series_code]

    times = np.zeros(len(starts), dtype=np.int64)
    if has_time.any():
        # Lines without a time get an empty span at their end: spans stay in body order.
        time_start = np.where(has_time, second_space + 1, ends)
        times, ok = typed(buffer, time_start, ends, has_time, INTEGER)
        bad |= has_time & ~ok

    fields = FieldTokens.find(buffer, data, first_space, field_end, bad, scratch)
    key_code, key_names = fields.key_codes(buffer)
    kind = classify(data[fields.equals + 1], data[fields.value_end - 1])
    bad[fields.line[kind == UNKNOWN]] = True
    value_start, value_end = fields.equals + 1, fields.value_end - _SUFFIXED[kind]
    values: dict[int, np.ndarray] = {}
    for code in np.unique(kind[kind != UNKNOWN]).tolist():
        selected = kind == code
        values[code], ok = typed(buffer, value_start, value_end, selected, KINDS[code])
        bad[fields.line[selected & ~ok]] = True

    keep = ~bad
    names = series.names
    if not len(fields.line):
        return line_numbers[bad]
    for code, name in enumerate(names):
        rows = np.flatnonzero(keep & (measurement == code) if len(names) > 1 else keep)
        if len(rows):
            sink.rows(name, line_numbers[rows], times[rows], has_time[rows])
    for tag in series.tags:
        index = tag.index[series_code]
        rows = keep & (index >= 0)
        if not rows.any():
            continue
        tag_values = pa.DictionaryArray.from_arrays(pa.array(index[rows]), tag.values)
        sink.tag(names[tag.measurement], tag.key, line_numbers[rows], tag_values)

    uniform = not bad.any() and len(names) == 1
    if not uniform or not _emit_uniform(
        fields, kind, key_code, key_names, values, names[0], line_numbers, sink
    ):
        live = np.flatnonzero(keep[fields.line])
        group = kind[live].astype(np.int64) * len(names) + measurement[fields.line[live]]
        group = group * len(key_names) + key_code[live]
        if len(live):
            _emit_grouped(
                group, fields.line[live], live, key_names, names, values, line_numbers, sink
            )
    return line_numbers[bad]


def _emit_grouped(
    group: np.ndarray,
    lines: np.ndarray,
    tokens: np.ndarray,
    key_names: list[str],
    names: tuple[str, ...],
    values: dict[int, np.ndarray],
    line_numbers: np.ndarray,
    sink: PieceSink,
) -> None:
    """Emit the columns of fields ``tokens`` (on ``lines``), grouped by kind, measurement, key."""
    order = np.argsort(group.astype(np.int16) if group.max() < 2**15 else group, kind="stable")
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    for chunk in np.split(order, cuts):
        code, key = divmod(int(group[chunk[0]]), len(key_names))
        kind_code, name = divmod(code, len(names))
        column = pa.array(values[kind_code][tokens[chunk]], KINDS[kind_code].arrow_type)
        sink.field(
            names[name], key_names[key], KINDS[kind_code], line_numbers[lines[chunk]], column
        )


def _emit_uniform(
    fields: FieldTokens,
    kind: np.ndarray,
    key_code: np.ndarray,
    key_names: list[str],
    values: dict[int, np.ndarray],
    name: str,
    line_numbers: np.ndarray,
    sink: PieceSink,
) -> bool:
    """Emit the columns when every line has the same keys of the same kinds, in order.

    Then column j is every k-th token and has every line: no grouping, no line lists.
    Return False (emitting nothing) when the lines are not uniform.
    """
    width = int(fields.count[0])
    if not (fields.count == width).all():
        return False
    codes, kinds = key_code.reshape(-1, width), kind.reshape(-1, width)
    if not ((codes == codes[0]).all() and (kinds == kinds[0]).all()):
        return False
    if len(set(codes[0].tolist())) < width:  # a key twice in a line: leave it to grouping
        return False
    for j, (code, kind_code) in enumerate(zip(codes[0].tolist(), kinds[0].tolist(), strict=True)):
        column = pa.array(values[kind_code][j::width], KINDS[kind_code].arrow_type)
        sink.field(name, key_names[code], KINDS[kind_code], line_numbers, column)
    return True
