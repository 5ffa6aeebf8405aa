"""The entry point: split a body into lines, route each line to a parser path, assemble.

Lines that may match the simple grammar go to the vectorised path (in chunks of
lines, when there are enough of them to pay for its fixed cost); the rest
(escapes, quoted strings, comments, odd white space, bytes that are not UTF-8)
and the lines the vectorised path gives back go to the exact parser one by one.
A quoted string may run over several lines, so complex lines are parsed first
and any lines they swallow are taken away from the fast path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flight_iox.columns import FieldType
from flight_iox.config import IngestLimits
from flight_iox.errors import MAX_LISTED_LINE_ERRORS, LineError
from flight_iox.ingest import exact
from flight_iox.ingest.lines import split_lines
from flight_iox.ingest.pieces import MeasurementBatch, PieceSink, assemble
from flight_iox.ingest.precision import Precision
from flight_iox.ingest.vectorized import parse_simple_lines

# Below this many simple lines the fast path's fixed cost (some 50 kernel calls) is more
# than the exact parser's per-line cost.
FAST_PATH_MIN_LINES = 16
# The fast path takes a big body's lines in chunks: its arrays then stay in the CPU
# cache, and come from (and go back to) the heap instead of fresh mmap pages.
FAST_PATH_CHUNK_LINES = 8192


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
    limits: IngestLimits | None = None,
) -> ParseResult:
    """Parse a line-protocol body; bad lines become ``errors``, the rest ``batches``.

    Lines, tag values and string field values over ``limits`` are rejected line by line.
    """
    return parse_body(body, precision=precision, default_time_ns=default_time_ns, limits=limits)


def parse_body(
    body: bytes | str,
    *,
    precision: Precision,
    default_time_ns: int,
    fast_path: bool = True,
    min_fast_lines: int = FAST_PATH_MIN_LINES,
    limits: IngestLimits | None = None,
) -> ParseResult:
    """``parse_line_protocol`` with a switch to send every line to the exact parser.

    The fast path takes the simple lines only when there are ``min_fast_lines`` or more
    (tests set 1 to run it on every body).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    data = np.frombuffer(body, dtype=np.uint8)
    scratch = np.empty(len(data), dtype=bool)  # for byte comparisons, reused
    lines = split_lines(body, data, scratch)
    starts, ends = lines.starts, lines.ends
    nonblank = ends > starts
    simple = lines.candidate.copy()
    limits = limits or IngestLimits()
    errors = _reject_long_lines(starts, ends, limits.max_line_bytes, nonblank, simple)
    if not fast_path or np.count_nonzero(simple) < min_fast_lines:
        simple[:] = False

    sink = PieceSink()
    complex_lines = np.flatnonzero(nonblank & ~simple)
    count = _run_exact(body, starts, complex_lines, simple, sink, errors)
    chosen = np.flatnonzero(simple)
    buffer, given_up_chunks = pa.py_buffer(body), []
    for chunk in np.array_split(chosen, max(1, -(-len(chosen) // FAST_PATH_CHUNK_LINES))):
        spaces = (lines.first_space[chunk], lines.second_space[chunk])
        given_up_chunks.append(
            parse_simple_lines(
                buffer, data, starts[chunk], ends[chunk], spaces, chunk + 1, sink, scratch
            )
        )
    given_up = np.concatenate([np.zeros(0, dtype=np.int64), *given_up_chunks])
    count += len(chosen) - len(given_up)
    count += _run_exact(body, starts, given_up - 1, None, sink, errors)

    batches, rejected = assemble(sink, precision, default_time_ns, limits)
    errors.update(rejected)
    result_errors = []
    line_texts = ParseResult([], [], 0, body, starts)
    for index, line in enumerate(sorted(errors)):
        # Only the first errors are ever listed (errors.MAX_LISTED_LINE_ERRORS): the text of
        # the others is not worth a copy of each rejected line.
        text = line_texts.line_text(line) if index < MAX_LISTED_LINE_ERRORS else ""
        result_errors.append(LineError(line, errors[line], text))
    return ParseResult(
        batches,
        result_errors,
        count,
        body,
        starts,
    )


def _reject_long_lines(
    starts: np.ndarray, ends: np.ndarray, limit: int, nonblank: np.ndarray, simple: np.ndarray
) -> dict[int, str]:
    """Errors for the lines over ``limit`` bytes, which no parser path then takes."""
    too_long = np.flatnonzero(nonblank & (ends - starts > limit))
    nonblank[too_long] = False
    simple[too_long] = False
    return {
        index + 1: f"line is {size} bytes, over the limit of {limit} (--max-line-bytes)"
        for index, size in zip(too_long.tolist(), (ends - starts)[too_long].tolist(), strict=True)
    }


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
            tag_lines, tag_values = self.tags[name, key]
            tag_lines.append(line)
            tag_values.append(value)
        for key, kind, field_value in point.fields:
            field_lines, field_values = self.fields[name, key, kind]
            field_lines.append(line)
            field_values.append(field_value)

    def flush(self, sink: PieceSink) -> None:
        for name, (lines, times, has_time) in self.rows.items():
            sink.rows(name, np.array(lines), np.array(times), np.array(has_time))
        for (name, key), (tag_lines, tag_values) in self.tags.items():
            sink.tag(name, key, np.array(tag_lines), pa.array(tag_values, pa.string()))
        for (name, key, kind), (field_lines, field_values) in self.fields.items():
            arrow_type = FieldType(kind).arrow_type
            sink.field(name, key, kind, np.array(field_lines), pa.array(field_values, arrow_type))
