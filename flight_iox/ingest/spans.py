"""Spans of a body as an Arrow string array that shares the body's buffer.

Kernels want a string array, and the spans we parse (keys, values, timestamps)
are not adjacent in the body. So span ``i`` becomes element ``2 * i`` and the
bytes between two spans become the null element ``2 * i + 1``: building the
array copies nothing (only the offsets are new), and kernels skip null slots.
``even`` reads a kernel's fixed-width result back as numpy, one value per span.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_EVERY_OTHER = 0x55  # validity bits 1010... (little-endian): the span slots


def spans(
    buffer: pa.Buffer, starts: np.ndarray, ends: np.ndarray, select: np.ndarray | None = None
) -> pa.Array:
    """Bytes ``[starts[i], ends[i])`` of ``buffer`` at slot ``2 * i``, nulls between.

    The spans must be in body order and must not overlap. With ``select``, spans
    that are not selected are null too (kernels skip them).
    """
    n = len(starts)
    large = buffer.size >= 2**31
    offsets = np.empty(2 * n + 1, dtype=np.int64 if large else np.int32)
    offsets[0:-1:2] = starts
    offsets[1::2] = ends
    offsets[-1] = ends[-1] if n else 0
    if select is None:
        bits = np.full((2 * n + 7) // 8, _EVERY_OTHER, dtype=np.uint8)
    else:
        slots = np.zeros(2 * n, dtype=bool)
        slots[0::2] = select
        bits = np.packbits(slots, bitorder="little")
    string_type = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(
        string_type, 2 * n, [pa.py_buffer(bits), pa.py_buffer(offsets), buffer]
    )


def even(result: pa.Array) -> np.ndarray:
    """The span slots of a fixed-width kernel result on ``spans`` (null slots hold junk)."""
    end = result.offset + len(result)
    if pa.types.is_boolean(result.type):
        raw = np.frombuffer(result.buffers()[1], dtype=np.uint8)
        return np.unpackbits(raw, count=end, bitorder="little")[result.offset :: 2].view(bool)
    dtype = np.dtype(result.type.to_pandas_dtype())
    return np.frombuffer(result.buffers()[1], dtype=dtype, count=end)[result.offset :: 2]
