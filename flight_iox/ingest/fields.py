"""Field sections of simple lines: where each field's key and value are, and which key it is.

In a field section every ``=`` and ``,`` is a delimiter, so the ``=`` and ``,``
positions of the body give every key and value span. A section with k ``=`` and
k - 1 ``,`` alternating, and no empty token, is well formed.

Lines of a body mostly repeat one shape (the same keys in the same order), so
keys are not hashed one by one: the first line's keys, tiled, are compared with
the keys of every line of that width in one kernel call, and only the tokens of
lines that differ are dictionary-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.ingest.spans import even, spans

_EQUALS, _COMMA = 0x3D, 0x2C


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

    @classmethod
    def find(
        cls,
        data: np.ndarray,
        first_space: np.ndarray,
        field_end: np.ndarray,
        bad: np.ndarray,
        scratch: np.ndarray,
    ) -> FieldTokens:
        """The fields of lines whose section is ``(first_space, field_end)``; marks ``bad``.

        Lines already ``bad`` get no fields, nor do lines found malformed here. ``scratch``
        is a bool array as long as ``data`` to compare bytes into (a new one for each
        pass costs page faults).
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
        lengths = np.array([len(key) for key in shape], dtype=np.int64)
        offsets = np.cumsum(lengths) - lengths
        wide = self.count == len(shape)
        tiled = pa.py_buffer(np.tile(np.frombuffer(b"".join(shape), np.uint8), int(wide.sum())))
        if np.array_equal(wide, self.count > 0):  # all lines this wide: all fields compared
            selected = None
            start = (np.arange(int(wide.sum()))[:, None] * int(lengths.sum()) + offsets).ravel()
            end = start + np.tile(lengths, int(wide.sum()))
        else:
            selected = wide[self.line]
            rank = np.cumsum(wide) - wide  # lines of this width before each line
            base = rank[self.line] * int(lengths.sum())
            nth = np.minimum(self.nth, len(shape) - 1)
            start = np.where(selected, base + offsets[nth], base)
            end = np.where(selected, start + lengths[nth], base)
        expected = spans(tiled, start, end, selected)
        same = even(pc.equal(spans(buffer, self.key_start, self.equals, selected), expected))
        differ = ~same if selected is None else selected & ~same
        if differ.any():
            wide[self.line[differ]] = False
        return wide[self.line]
