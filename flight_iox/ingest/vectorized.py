"""The bulk fast path: parse every "simple" line at once with numpy and Arrow kernels.

A simple line matches ``SIMPLE_LINE``: no backslash, no double quote, no control
character, single spaces, and a measurement, tag and field tokens that hold no
delimiter. For such lines every ``,``, ``=`` and space is a delimiter, so the
tokens are the gaps between delimiters. We find all delimiters of the body in
one pass, give each a role from its kind and the number of spaces before it on
its line, and make each column an Arrow ``string_view`` over the body buffer
(no copy). Values are typed by their first and last byte and cast in bulk.
Lines whose values do not cast go back to the caller for the exact parser.
Python loops here run once per distinct measurement or column, never per line.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.ingest.exact import BOOLEAN, FLOAT, INTEGER, UNSIGNED
from flight_iox.ingest.pieces import PieceSink

_PLAIN = r'[^ ,=\\"\x00-\x1f\x7f]+'
SIMPLE_LINE = (
    rf"^{_PLAIN}(?:,{_PLAIN}={_PLAIN})* {_PLAIN}={_PLAIN}(?:,{_PLAIN}={_PLAIN})*"
    r"(?: -?[0-9]+)?\r?\n?$"
)
_FLOAT_SYNTAX = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
_BOOL_TRUE = ["t", "T", "true", "True", "TRUE"]
_BOOL_ALL = pa.array([*_BOOL_TRUE, "f", "F", "false", "False", "FALSE"])

_SPACE, _COMMA, _EQUALS, _NEWLINE = 1, 2, 3, 4
_CLASSES = np.zeros(256, dtype=np.uint8)
_CLASSES[ord(" ")], _CLASSES[ord(",")], _CLASSES[ord("=")] = _SPACE, _COMMA, _EQUALS
_CLASSES[ord("\n")] = _NEWLINE


def string_views(
    buffer: pa.Buffer, windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> pa.Array:
    """A ``string_view`` array of body slices ``[start, start+length)``, sharing ``buffer``.

    ``windows`` is ``sliding_window_view`` of the body padded with 12 zero bytes: row
    ``i`` holds bytes ``i..i+11``, which a view inlines (short strings) or uses as prefix.
    """
    n = len(starts)
    head = windows[starts] * (np.arange(12, dtype=np.uint8) < lengths[:, None])
    words = head.view("<i4").reshape(n, 3)
    long_rows = lengths > 12
    views = np.empty((n, 4), dtype="<i4")
    views[:, 0] = lengths
    views[:, 1] = words[:, 0]
    views[:, 2] = np.where(long_rows, 0, words[:, 1])
    views[:, 3] = np.where(long_rows, starts, words[:, 2])
    return pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), buffer])


def parse_simple_lines(
    buffer: pa.Buffer,
    data: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    line_numbers: np.ndarray,
    sink: PieceSink,
) -> np.ndarray:
    """Parse the given simple lines into ``sink``; return the line numbers it gave up on.

    ``starts``/``ends`` bound each line's content (no line ending); the lines must
    match ``SIMPLE_LINE``. Times go to the sink raw (in the body's unit).
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    # Delimiters of the chosen lines, each with the index of its line in ``starts``.
    is_delimiter = (data == 0x20) | (data == 0x2C)
    is_delimiter |= data == 0x3D
    is_delimiter |= data == 0x0A
    positions = np.flatnonzero(is_delimiter)
    kinds = _CLASSES[data[positions]]
    is_newline = kinds == _NEWLINE
    body_line = np.cumsum(is_newline) - is_newline
    chosen = np.full(int(body_line[-1]) + 2 if len(body_line) else 1, -1, dtype=np.int64)
    chosen[line_numbers - 1] = np.arange(len(starts))
    line_of = chosen[body_line]
    inside = (line_of >= 0) & ~is_newline
    positions, kinds, line_of = positions[inside], kinds[inside], line_of[inside]
    padded = np.concatenate([data, np.zeros(12, dtype=np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 12)
    first = np.searchsorted(line_of, np.arange(len(starts)), side="left")

    is_space = kinds == _SPACE
    spaces = np.cumsum(is_space)
    base = np.where(first > 0, spaces[np.maximum(first - 1, 0)], 0)
    section = spaces - is_space - base[line_of]  # spaces before this delimiter on its line
    index = np.arange(len(positions))
    previous = np.where(index == first[line_of], starts[line_of] - 1, np.roll(positions, 1))
    last_on_line = np.append(line_of[1:] != line_of[:-1], True)
    following = np.where(last_on_line, ends[line_of], np.roll(positions, -1))

    measurement_end = positions[first]
    second_space = np.flatnonzero(is_space & (section == 1))
    equals = np.flatnonzero(kinds == _EQUALS)
    tag_eq = equals[section[equals] == 0]
    field_eq = equals[section[equals] == 1]

    def tokens(begin: np.ndarray, end: np.ndarray) -> pa.Array:
        return string_views(buffer, windows, begin, end - begin)

    bad = np.zeros(len(starts), dtype=bool)
    times = np.zeros(len(starts), dtype=np.int64)
    has_time = np.zeros(len(starts), dtype=bool)
    if len(second_space):
        time_lines = line_of[second_space]
        begin = positions[second_space] + 1
        values, ok = _cast(tokens(begin, ends[time_lines]), pa.int64(), r"^-?[0-9]+$")
        times[time_lines[ok]] = values
        has_time[time_lines[ok]] = True
        bad[time_lines[~ok]] = True

    field_lines = line_of[field_eq]
    value_begin = positions[field_eq] + 1
    value_end = following[field_eq]
    first_byte = data[value_begin]
    last_byte = data[value_end - 1]
    numeric = np.isin(first_byte, np.frombuffer(b"-0123456789.", np.uint8))
    kinds_of_values = {
        BOOLEAN: np.isin(first_byte, np.frombuffer(b"tTfF", np.uint8)),
        INTEGER: numeric & (last_byte == ord("i")),
        UNSIGNED: numeric & (last_byte == ord("u")),
    }
    kinds_of_values[FLOAT] = numeric & ~kinds_of_values[INTEGER] & ~kinds_of_values[UNSIGNED]
    unknown = ~(kinds_of_values[BOOLEAN] | numeric)
    bad[field_lines[unknown]] = True
    typed: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for kind, mask in kinds_of_values.items():
        which = np.flatnonzero(mask)
        if not len(which):
            continue
        values, ok = _typed_values(
            kind, tokens(value_begin[which], value_end[which] - (kind in (INTEGER, UNSIGNED)))
        )
        bad[field_lines[which[~ok]]] = True
        typed[kind] = (which[ok], values)

    keep_line = ~bad
    measurements = pc.dictionary_encode(tokens(starts, measurement_end))
    measurement_codes = measurements.indices.to_numpy(zero_copy_only=False)
    names = measurements.dictionary.cast(pa.string()).to_pylist()
    for code, name in enumerate(names):
        rows = np.flatnonzero((measurement_codes == code) & keep_line)
        if len(rows):
            sink.rows(name, line_numbers[rows], times[rows], has_time[rows])

    tag_lines = line_of[tag_eq]
    tag_keep = keep_line[tag_lines]
    tag_eq, tag_lines = tag_eq[tag_keep], tag_lines[tag_keep]
    keys = tokens(previous[tag_eq] + 1, positions[tag_eq])
    value_begin, value_end = positions[tag_eq] + 1, following[tag_eq]
    for name, key, order in _groups(measurement_codes[tag_lines], keys, names):
        values = tokens(value_begin[order], value_end[order]).cast(pa.string())
        sink.tag(name, key, line_numbers[tag_lines[order]], values)

    key_begin, key_end = previous[field_eq] + 1, positions[field_eq]
    for kind, (which, values) in typed.items():
        lines = field_lines[which]
        keep = keep_line[lines]
        which, lines, values = which[keep], lines[keep], values.filter(pa.array(keep))
        field_keys = tokens(key_begin[which], key_end[which])
        groups = _groups(measurement_codes[lines], field_keys, names)
        for name, key, order in groups:
            sink.field(name, key, kind, line_numbers[lines[order]], values.take(order))
    return line_numbers[bad]


def _groups(
    measurement_codes: np.ndarray, keys: pa.Array, names: list[str]
) -> list[tuple[str, str, np.ndarray]]:
    """Split tokens by (measurement, key): (measurement, key, token indices in order)."""
    if len(keys) == 0:
        return []
    encoded = pc.dictionary_encode(keys)
    key_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key_names = encoded.dictionary.cast(pa.string()).to_pylist()
    group = measurement_codes.astype(np.int64) * len(key_names) + key_codes
    small = group.max() < 2**15
    order = np.argsort(group.astype(np.int16) if small else group, kind="stable")
    sorted_groups = group[order]
    cuts = np.flatnonzero(np.diff(sorted_groups)) + 1
    result = []
    for chunk in np.split(order, cuts):
        code = int(group[chunk[0]])
        result.append((names[code // len(key_names)], key_names[code % len(key_names)], chunk))
    return result


def _typed_values(kind: str, tokens: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Cast value tokens of one kind; return (values of the good ones, good mask)."""
    if kind == BOOLEAN:
        text = tokens.cast(pa.string())
        ok = pc.is_in(text, value_set=_BOOL_ALL).to_numpy(zero_copy_only=False)
        good = text.filter(pa.array(ok))
        return pc.is_in(good, value_set=pa.array(_BOOL_TRUE)), ok
    if kind == INTEGER:
        return _cast(tokens, pa.int64(), r"^-?[0-9]+$")
    if kind == UNSIGNED:
        return _cast(tokens, pa.uint64(), r"^[0-9]+$")
    text = tokens.cast(pa.string())
    ok = pc.match_substring_regex(text, _FLOAT_SYNTAX).to_numpy(zero_copy_only=False)
    values = pc.cast(text.filter(pa.array(ok)), pa.float64())
    finite = pc.is_finite(values).to_numpy(zero_copy_only=False)
    if not finite.all():
        ok[np.flatnonzero(ok)[~finite]] = False
        values = values.filter(pa.array(finite))
    return values, ok


def _cast(tokens: pa.Array, to: pa.DataType, syntax: str) -> tuple[pa.Array, np.ndarray]:
    """Cast tokens to an integer type; on failure keep only the well-formed, in-range ones."""
    try:
        return pc.cast(tokens, to), np.ones(len(tokens), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    text = tokens.cast(pa.string())
    ok = pc.match_substring_regex(text, syntax).to_numpy(zero_copy_only=False)
    # 19+ digit numbers may overflow: leave them to the exact parser.
    ok &= pc.utf8_length(text).to_numpy(zero_copy_only=False) < 19
    return pc.cast(text.filter(pa.array(ok)), to), ok
