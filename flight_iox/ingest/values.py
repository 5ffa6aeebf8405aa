"""Field values of simple lines: their kind from the first and last byte, then a bulk cast.

Arrow's casts accept a little more or less than line protocol does, so a cast is
trusted only where line protocol and Arrow agree: numbers start with a sign, a
digit or a point (so no ``inf``), floats must come out finite, integers whose second
byte is ``x`` are refused (Arrow's integer casts read ``0x10`` as 16; line protocol
has no hexadecimal), and when a cast fails a regex finds the well-formed values
(19+ digit integers may overflow and are left to the exact parser).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import FieldType
from flight_iox.ingest.exact import BOOLEAN, FLOAT, INTEGER, UNSIGNED
from flight_iox.ingest.spans import even, spans

KINDS = (FLOAT, INTEGER, UNSIGNED, BOOLEAN)  # a token's kind is its index here
UNKNOWN = len(KINDS)
_SYNTAX = {
    FLOAT: r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$",
    INTEGER: r"^-?[0-9]+$",
    UNSIGNED: r"^[0-9]+$",
}
_BOOL_TRUE = pa.array(["t", "T", "true", "True", "TRUE"])
_BOOL_ALL = pa.concat_arrays([_BOOL_TRUE, pa.array(["f", "F", "false", "False", "FALSE"])])

_BY_FIRST_BYTE = np.full(256, UNKNOWN, dtype=np.int8)
_BY_FIRST_BYTE[np.frombuffer(b"-0123456789.", np.uint8)] = KINDS.index(FLOAT)
_BY_FIRST_BYTE[np.frombuffer(b"tTfF", np.uint8)] = KINDS.index(BOOLEAN)
_SUFFIXED = {ord("i"): KINDS.index(INTEGER), ord("u"): KINDS.index(UNSIGNED)}


def classify(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The kind (index into ``KINDS``, or ``UNKNOWN``) of values with these end bytes."""
    kind = _BY_FIRST_BYTE[first]
    numeric = kind == KINDS.index(FLOAT)
    for suffix, code in _SUFFIXED.items():
        kind[numeric & (last == suffix)] = code
    return kind


def typed(
    buffer: pa.Buffer, starts: np.ndarray, ends: np.ndarray, select: np.ndarray, kind: FieldType
) -> tuple[np.ndarray, np.ndarray]:
    """Values of the selected spans (without suffix) as ``kind``; also which are well formed.

    Both results have one entry per span; only selected, well-formed entries mean anything.
    """
    text = spans(buffer, starts, ends, None if select.all() else select)
    if kind == BOOLEAN:
        ok = select & even(pc.is_in(text, value_set=_BOOL_ALL))
        return even(pc.is_in(text, value_set=_BOOL_TRUE)), ok
    try:
        values = even(text.cast(kind.arrow_type))
        ok = select.copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = select & even(pc.match_substring_regex(text, _SYNTAX[kind]))
        if kind != FLOAT:
            ok &= ends - starts < 19
        values = even(spans(buffer, starts, ends, ok).cast(kind.arrow_type))
    if kind == FLOAT:
        ok &= np.isfinite(values)
    else:
        ok &= ~_hexadecimal(buffer, starts, ends)
    return values, ok


def _hexadecimal(buffer: pa.Buffer, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Spans whose second byte is ``x`` or ``X``: an integer cast reads ``0x1`` as 1.

    Only spans of 3 bytes or more are looked at (``0x`` alone does not cast): the bytes are
    gathered from all over the body, and short values, most of them, are skipped.
    """
    found = np.zeros(len(starts), dtype=bool)
    long_enough = np.flatnonzero(ends - starts >= 3)
    if len(long_enough):
        data = np.frombuffer(buffer, dtype=np.uint8)
        found[long_enough] = (data[starts[long_enough] + 1] | 0x20) == ord("x")
    return found
