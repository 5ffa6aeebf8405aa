"""The entry point: split a body into lines, route each line to a parser path, assemble.

Lines that match the simple grammar go to the vectorised path in one batch; the
rest (escapes, quoted strings, comments, errors, odd white space, bytes that are
not UTF-8) go to the exact parser one by one. A quoted string may run over
several lines, so complex lines are parsed first and any lines they swallow are
taken away from the fast path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.errors import LineError
from flight_iox.ingest import exact
from flight_iox.ingest.pieces import PieceSink, assemble
from flight_iox.ingest.precision import Precision
from flight_iox.ingest.vectorized import SIMPLE_LINE, parse_simple_lines

_EXACT_ARROW_TYPES: dict[str, pa.DataType] = {
    exact.FLOAT: pa.float64(),
    exact.INTEGER: pa.int64(),
    exact.UNSIGNED: pa.uint64(),
    exact.BOOLEAN: pa.bool_(),
    exact.STRING: pa.string(),
}


@dataclass(frozen=True)
class MeasurementBatch:
    """The accepted rows of one measurement, column by column, in body order."""

    measurement: str
    tags: dict[str, pa.Array]
    fields: dict[str, pa.Array]
    time: pa.Array
    line_numbers: pa.Array


@dataclass(frozen=True)
class ParseResult:
    """What a body parsed into: one batch per measurement, and the rejected lines."""

    batches: list[MeasurementBatch]
    errors: list[LineError]
    line_count: int
    _body: bytes
    _line_starts: np.ndarray

    def line_text(self, line_number: int) -> str:
        """The original text of a line (1-based), without its line ending."""
        start = int(self._line_starts[line_number - 1])
        end = self._body.find(b"\n", start)
        raw = self._body[start : len(self._body) if end < 0 else end]
        return raw.removesuffix(b"\r").decode("utf-8", "replace")


def parse_line_protocol(
    body: bytes | str,
    *,
    precision: Precision = Precision.NANOSECOND,
    default_time_ns: int,
) -> ParseResult:
    """Parse a line-protocol body; bad lines become ``errors``, the rest ``batches``."""
    return parse_body(body, precision=precision, default_time_ns=default_time_ns)


def parse_body(
    body: bytes | str,
    *,
    precision: Precision,
    default_time_ns: int,
    fast_path: bool = True,
) -> ParseResult:
    """``parse_line_protocol`` with a switch to send every line to the exact parser."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    data = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(data == 0x0A)
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    ends = np.append(newlines, len(data)).astype(np.int64)
    if len(starts) > 1 and starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    if len(data) == 0:
        starts, ends = starts[:0], ends[:0]
    content_ends = ends.copy()
    if len(ends):
        has_cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == 0x0D)
        content_ends[has_cr] -= 1
    nonblank = content_ends > starts

    simple = np.zeros(len(starts), dtype=bool)
    if fast_path and nonblank.any():
        simple = _simple_lines(body, data, starts, ends) & nonblank

    sink = PieceSink()
    errors: dict[int, str] = {}
    complex_lines = np.flatnonzero(nonblank & ~simple)
    consumed = _run_exact(body, starts, complex_lines, simple, sink, errors)
    count = consumed
    simple_index = np.flatnonzero(simple)
    given_up = parse_simple_lines(
        pa.py_buffer(body), data, starts[simple_index], content_ends[simple_index],
        simple_index + 1, sink,
    )  # fmt: skip
    count += len(simple_index) - len(given_up)
    count += _run_exact(body, starts, given_up - 1, None, sink, errors)

    batches, rejected = assemble(sink, precision, default_time_ns)
    errors.update(rejected)
    result_errors = []
    line_texts = ParseResult([], [], 0, body, starts)
    for line in sorted(errors):
        result_errors.append(LineError(line, errors[line], line_texts.line_text(line)))
    return ParseResult(
        [MeasurementBatch(b.name, b.tags, b.fields, b.time, b.line_numbers) for b in batches],
        result_errors,
        count,
        body,
        starts,
    )


def _simple_lines(
    body: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Which lines match the simple grammar (lines with bytes that are not UTF-8 never do)."""
    offsets = np.append(starts, ends[-1] + (ends[-1] < len(data))).astype(np.int32)
    offsets[-1] = min(offsets[-1], len(data))
    lines = pa.Array.from_buffers(
        pa.string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(body)]
    )
    high = np.flatnonzero(data >= 0x80)
    if len(high):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            odd = np.zeros(len(starts), dtype=bool)
            odd[np.searchsorted(starts, high, side="right") - 1] = True
            plain = np.flatnonzero(~odd)
            result = np.zeros(len(starts), dtype=bool)
            if len(plain):
                matched = pc.match_substring_regex(lines.take(pa.array(plain)), SIMPLE_LINE)
                result[plain] = matched.to_numpy(zero_copy_only=False)
            return result
    return pc.match_substring_regex(lines, SIMPLE_LINE).to_numpy(zero_copy_only=False)


def _run_exact(
    body: bytes,
    starts: np.ndarray,
    line_indexes: np.ndarray,
    simple: np.ndarray | None,
    sink: PieceSink,
    errors: dict[int, str],
) -> int:
    """Parse the given lines exactly into ``sink``; return how many entries there were.

    A string value may run on over later lines: those are marked not simple, so the
    fast path leaves them alone.
    """
    collector = _Collector()
    entries = 0
    resume = 0  # body offset before which everything is already parsed
    for index in line_indexes.tolist():
        start = int(starts[index])
        if start < resume:
            continue
        pos, is_entry = exact.skip_blank(body, start)
        if not is_entry:
            continue
        entries += 1
        point, resume = exact.parse_entry(body, pos)
        if isinstance(point, exact.EntryError):
            errors[index + 1] = f"at column {point.column}: {point.message}"
        else:
            collector.add(index + 1, point)
        if simple is not None and resume > start:
            last = np.searchsorted(starts, resume - 1, side="right") - 1
            if last > index:
                simple[index + 1 : last + 1] = False
    collector.flush(sink)
    return entries


class _Collector:
    """Turns exact-parser points into column pieces."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[int], list[int], list[bool]]] = defaultdict(
            lambda: ([], [], [])
        )
        self.tags: dict[tuple[str, str], tuple[list[int], list[str]]] = defaultdict(
            lambda: ([], [])
        )
        self.fields: dict[tuple[str, str, str], tuple[list[int], list[object]]] = defaultdict(
            lambda: ([], [])
        )

    def add(self, line: int, point: exact.Point) -> None:
        name = point.measurement
        lines, times, has_time = self.rows[name]
        lines.append(line)
        times.append(point.timestamp or 0)
        has_time.append(point.timestamp is not None)
        for key, value in point.tags:
            tag_lines, values = self.tags[name, key]
            tag_lines.append(line)
            values.append(value)
        for key, kind, value in point.fields:
            field_lines, values = self.fields[name, key, kind]
            field_lines.append(line)
            values.append(value)

    def flush(self, sink: PieceSink) -> None:
        for name, (lines, times, has_time) in self.rows.items():
            sink.rows(name, np.array(lines), np.array(times), np.array(has_time))
        for (name, key), (lines, values) in self.tags.items():
            sink.tag(name, key, np.array(lines), pa.array(values, pa.string()))
        for (name, key, kind), (lines, values) in self.fields.items():
            arrow_type = _EXACT_ARROW_TYPES[kind]
            sink.field(name, key, kind, np.array(lines), pa.array(values, arrow_type))
