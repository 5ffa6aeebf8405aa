"""Field sections of simple lines: where each field's key and value are, and which key it is.

In a field section every ``=`` and ``,`` is a delimiter, so the ``=`` and ``,``
positions of the body give every key and value span. A section with k ``=`` and
k - 1 ``,`` alternating, and no empty token, is well formed.

Lines of a body mostly repeat one shape (the same keys in the same order), so
keys are not hashed one by one: the first line's keys, tiled, are compared with
the keys of every line of that width in one kernel call, and only the tokens of
lines that differ are dictionary-encoded.

When every line has the first line's number of ``=``, the ``,`` are not looked for at all
(``_one_shape``): each key is taken to end at its ``=`` and to be as long as the first
line's, and that is confirmed for every line at once (the byte before each key is the
line's first space or a ``,``, and the keys' bytes are the first line's). A value that
then holds a ``,`` cannot be a valid unquoted value: its cast fails, and its line goes to
the exact parser as the general path would send it. Any line that does not confirm sends
the whole chunk down the general path (which then compares the keys once more). Skipping
the comma scan parses 1.12-1.19x as many lines per second (``bench/parse.py``, TSBS).

A client's bodies repeat the shape too, so the tiled keys of the last few shapes are kept
(``KEPT_SHAPES``), each as long as the longest chunk seen: a chunk of fewer lines compares
with a slice of it. ``bench/parse.py`` parses 1.04-1.06x as many lines per second with them
kept. A tiling over ``MAX_KEPT_SHAPE_BYTES`` is built each time instead. A kept tiling is
an Arrow array: immutable, shared by threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.ingest.spans import even, spans
from flight_iox.lru import LockedLru

_EQUALS, _COMMA = 0x3D, 0x2C
KEPT_SHAPES = 8  # shapes whose tiled keys are kept (a few clients' bodies each)
MAX_KEPT_SHAPE_BYTES = 2 << 20  # per kept tiling: its text, offsets and validity bits
READ_ONE_SHAPE = True  # False: always the general path (``bench/parse.py`` times both)


@dataclass(frozen=True)
class FieldTokens:
    """One entry per field of the well-formed lines, in body order."""

    data: np.ndarray  # the body
    line: np.ndarray  # index of the field's line
    nth: np.ndarray  # position of the field in its line
    count: np.ndarray  # per line: number of fields (0 for bad lines)
    key_start: np.ndarray
    equals: np.ndarray  # position of the "=" (the key ends there, the value starts after)
    value_end: np.ndarray
    shape: tuple[str, ...] | None = None  # every line's keys, in order, when all agree

    @classmethod
    def find(
        cls,
        buffer: pa.Buffer,
        data: np.ndarray,
        first_space: np.ndarray,
        field_end: np.ndarray,
        bad: np.ndarray,
        scratch: np.ndarray,
    ) -> FieldTokens:
        """The fields of lines whose section is ``(first_space, field_end)``; marks ``bad``.

        Lines already ``bad`` get no fields, nor do lines found malformed here. ``buffer``
        and ``data`` are the body; ``scratch`` is a bool array as long as ``data`` to
        compare bytes into (a new one for each pass costs page faults).
        """
        # int32 positions where they fit: half the memory, and fresh memory costs page faults
        position: type[np.signedinteger[Any]] = np.int32 if len(data) < 2**31 else np.int64
        # Only the bytes of these lines: a body's lines come in chunks.
        low, high = int(first_space[0]), int(field_end[-1])
        window, scratch = data[low:high], scratch[: high - low]
        equals = np.flatnonzero(np.equal(window, _EQUALS, out=scratch)).astype(position)
        equals += low
        first_equals = np.searchsorted(equals, first_space)
        count = np.searchsorted(equals, field_end) - first_equals
        if READ_ONE_SHAPE and not bad.any() and (count == count[0]).all():
            found = _one_shape(buffer, data, equals, first_equals, first_space, field_end)
            if found is not None:
                return found
        commas = np.flatnonzero(np.equal(window, _COMMA, out=scratch)).astype(position)
        commas += low
        first_comma = np.searchsorted(commas, first_space)
        comma_count = np.searchsorted(commas, field_end) - first_comma
        bad |= (count < 1) | (comma_count != count - 1)
        while True:
            count[bad] = 0
            first_field = np.cumsum(count) - count
            line = np.repeat(np.arange(len(count), dtype=position), count)
            ordinal = np.arange(len(line), dtype=position)
            nth = ordinal - np.repeat(first_field.astype(position), count)
            at = equals[np.repeat(first_equals - first_field, count) + ordinal]
            # Value ends and key starts are commas, except at the ends of a section.
            comma = np.repeat(first_comma - first_field, count) + ordinal
            if len(commas):
                key_start = commas[comma - 1] + 1
                value_end = commas[np.minimum(comma, len(commas) - 1, out=comma)]
            else:
                key_start, value_end = np.empty((2, len(line)), dtype=position)
            has = np.flatnonzero(count)
            value_end[first_field[has] + count[has] - 1] = field_end[has]
            key_start[first_field[has]] = first_space[has] + 1
            malformed = (at <= key_start) | (value_end <= at + 1)
            if not malformed.any():
                return cls(data, line, nth, count, key_start, at, value_end)
            bad[line[malformed]] = True

    def key_codes(self, buffer: pa.Buffer) -> tuple[np.ndarray, list[str]]:
        """The key of each field, as an index into the returned key names."""
        if self.shape is not None:
            return self.nth, list(self.shape)
        if not len(self.line):
            return np.zeros(0, dtype=np.int64), []
        width = int(self.count[self.line[0]])
        bounds = zip(self.key_start[:width].tolist(), self.equals[:width].tolist(), strict=True)
        shape = [self.data[start:end].tobytes() for start, end in bounds]
        names: list[str] = []
        codes = np.full(len(self.line), -1, dtype=np.int64)
        if len(set(shape)) == width:
            matched = self._matches(buffer, shape)
            names = [key.decode() for key in shape]
            if matched.all():
                return self.nth, names
            codes[matched] = self.nth[matched]
        rest = codes < 0
        encoded = pc.dictionary_encode(spans(buffer, self.key_start, self.equals, rest))
        index = {name: code for code, name in enumerate(names)}
        extra = [index.setdefault(name, len(index)) for name in encoded.dictionary.to_pylist()]
        codes[rest] = np.array(extra, dtype=np.int64)[even(encoded.indices)[rest]]
        return codes, list(index)

    def _matches(self, buffer: pa.Buffer, shape: list[bytes]) -> np.ndarray:
        """Which fields belong to a line whose keys are exactly ``shape``."""
        wide = self.count == len(shape)
        lines = int(wide.sum())
        if np.array_equal(wide, self.count > 0):  # all lines this wide: all fields compared
            selected = None
            expected = _tiled_keys(tuple(shape), lines)
        else:
            lengths = np.array([len(key) for key in shape], dtype=np.int64)
            offsets = np.cumsum(lengths) - lengths
            selected = wide[self.line]
            rank = np.cumsum(wide) - wide  # lines of this width before each line
            base = rank[self.line] * int(lengths.sum())
            nth = np.minimum(self.nth, len(shape) - 1)
            start = np.where(selected, base + offsets[nth], base)
            end = np.where(selected, start + lengths[nth], base)
            expected = spans(_tiled_text(shape, lines), start, end, selected)
        same = even(pc.equal(spans(buffer, self.key_start, self.equals, selected), expected))
        differ = ~same if selected is None else selected & ~same
        if differ.any():
            wide[self.line[differ]] = False
        return wide[self.line]


def _one_shape(
    buffer: pa.Buffer,
    data: np.ndarray,
    equals: np.ndarray,
    first_equals: np.ndarray,
    first_space: np.ndarray,
    field_end: np.ndarray,
) -> FieldTokens | None:
    """The fields when every line has the first line's keys, found without the commas.

    ``equals``: every ``=`` of the lines (tags' too); ``first_equals``: each line's first
    in its field section, where each line holds as many as the first. None (nothing
    marked) when any line differs.
    """
    section = data[int(first_space[0]) + 1 : int(field_end[0])].tobytes()
    pairs = [token.split(b"=") for token in section.split(b",")]
    shape = tuple(pair[0] for pair in pairs)
    width, lines = len(shape), len(first_space)
    if any(len(pair) != 2 or not all(pair) for pair in pairs) or len(set(shape)) < width:
        return None  # malformed, or a key twice: the general path says which lines
    offsets = np.arange(width, dtype=first_equals.dtype)
    at = equals[(first_equals[:, None] + offsets).ravel()]  # line by line, field by field
    lengths = np.array([len(key) for key in shape], dtype=at.dtype)
    key_start = at - np.tile(lengths, lines)
    ends = key_start[1:] - 1  # each value ends at the next key's delimiter
    value_end = np.append(ends, at.dtype.type(field_end[-1]))
    value_end[width - 1 :: width] = field_end
    starts = key_start.reshape(lines, width)
    if not (
        (starts[:, 0] - 1 == first_space).all()
        and (data[starts[:, 1:] - 1] == _COMMA).all()
        and (value_end > at + 1).all()
    ):
        return None
    keys = spans(buffer, key_start, at)
    if not even(pc.equal(keys, _tiled_keys(shape, lines))).all():
        return None
    nth = np.tile(np.arange(width, dtype=np.int64), lines)
    line = np.repeat(np.arange(lines, dtype=at.dtype), width)
    count = np.full(lines, width, dtype=np.int64)
    names = tuple(key.decode() for key in shape)
    return FieldTokens(data, line, nth, count, key_start, at, value_end, names)


def forget_kept_shapes() -> None:
    """Drop every kept tiling (``bench/parse.py`` times parsing without them)."""
    _KEPT.clear()


def _tiled_text(shape: list[bytes] | tuple[bytes, ...], lines: int) -> pa.Buffer:
    """The keys of ``shape`` one after the other, ``lines`` times."""
    return pa.py_buffer(np.tile(np.frombuffer(b"".join(shape), np.uint8), lines))


def _tiled_keys(shape: tuple[bytes, ...], lines: int) -> pa.Array:
    """``lines`` lines of ``shape``'s keys as spans, each key at the slot its field has: a
    slice of the longest tiling kept for ``shape`` when that is long enough."""
    slots = 2 * len(shape) * lines  # a span and the null after it, per field
    kept = _KEPT.get(shape)
    if kept is not None and len(kept) >= slots:
        return kept.slice(0, slots)
    lengths = np.array([len(key) for key in shape], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    start = (np.arange(lines)[:, None] * int(lengths.sum()) + offsets).ravel()
    tiled = spans(_tiled_text(shape, lines), start, start + np.tile(lengths, lines))
    if tiled.get_total_buffer_size() <= MAX_KEPT_SHAPE_BYTES:
        _KEPT.put(shape, tiled)
    return tiled


# Parses run on several threads at once: two may build one shape's tiling at once, and the
# one put last is kept (perhaps the shorter: the next longer body builds it again).
_KEPT: LockedLru[tuple[bytes, ...], pa.Array] = LockedLru(KEPT_SHAPES)
