"""Split a body into lines, and find the lines the vectorised path may take.

One numpy pass finds every byte up to ``"`` (control characters, the space, the
quote) and every byte of 0x80 or more: the newlines and spaces among them give
the lines and their sections, the rest rule lines out. A candidate line has only
bytes the simple grammar allows and one or two spaces; the vectorised path checks
the rest of the grammar and gives back the lines that fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NEWLINE, _CR, _SPACE, _BANG, _HASH = 0x0A, 0x0D, 0x20, 0x21, 0x23
_RARE_BYTES = (b"\\", b"\x7f")  # not simple, and rare enough to look for with memchr


@dataclass(frozen=True)
class BodyLines:
    """Where each line of a body is, and whether the vectorised path may take it."""

    starts: np.ndarray  # int64, first byte of each line
    ends: np.ndarray  # int64, end of each line's content (before LF or CRLF)
    first_space: np.ndarray  # int64, -1 when the line has no space
    second_space: np.ndarray  # int64, -1 when the line has fewer than two spaces
    candidate: np.ndarray  # bool


def split_lines(body: bytes, data: np.ndarray, scratch: np.ndarray) -> BodyLines:
    """The lines of ``body`` (``data``: the same bytes as numpy; ``scratch``: bools as many)."""
    special = np.flatnonzero(np.less_equal(data.view(np.int8), 0x22, out=scratch))
    kind = data[special]
    is_newline = kind == _NEWLINE
    newlines = special[is_newline]
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    ends = np.append(newlines, len(data)).astype(np.int64)
    if len(data) == 0 or starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    n = len(starts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return BodyLines(empty, empty, empty, empty, np.zeros(0, dtype=bool))
    has_cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == _CR)
    ends -= has_cr
    line_of = np.cumsum(is_newline) - is_newline  # line of each special byte

    is_space = kind == _SPACE
    spaces, space_line = special[is_space], line_of[is_space]
    space_count = np.bincount(space_line, minlength=n)
    first = np.searchsorted(space_line, np.arange(n))
    padded = np.append(spaces, [-1, -1])
    first_space = np.where(space_count >= 1, padded[first], -1)
    second_space = np.where(space_count >= 2, padded[first + 1], -1)

    candidate = (space_count >= 1) & (space_count <= 2) & (first_space > starts)
    candidate &= data[np.minimum(starts, len(data) - 1)] != _HASH
    odd = ~is_newline & ~is_space & (kind != _BANG) & (kind < 0x80)
    odd_at, odd_line = special[odd], line_of[odd]
    line_end_cr = (kind[odd] == _CR) & (odd_at == ends[odd_line])
    candidate[odd_line[~line_end_cr]] = False
    high = kind >= 0x80
    if high.any():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            candidate[line_of[high]] = False
    for rare in _RARE_BYTES:
        if body.find(rare) >= 0:
            at = np.flatnonzero(data == rare[0])
            candidate[np.searchsorted(starts, at, side="right") - 1] = False
    return BodyLines(starts, ends, first_space, second_space, candidate)
