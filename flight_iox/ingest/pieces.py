"""Columns in pieces, as both parser paths produce them, and their assembly into batches.

Each path hands over, per measurement, its rows (line numbers and raw times) and,
per column, the line numbers that have a value and the values. Assembly merges the
paths in body order, applies the precision, rejects lines whose field types clash
with earlier lines (the first type seen wins) or that repeat a tag key, and scatters
each column into a batch with nulls where a line lacks it. Doing this once, for
both paths, is what keeps the two paths' results identical.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import FieldType
from flight_iox.config import IngestLimits
from flight_iox.ingest.precision import Precision, scale_to_nanoseconds

Piece = tuple[np.ndarray, pa.Array]  # (line numbers, values), same length


@dataclass
class _Measurement:
    lines: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)
    has_time: list[np.ndarray] = field(default_factory=list)
    tags: dict[str, list[Piece]] = field(default_factory=lambda: defaultdict(list))
    fields: dict[str, dict[str, list[Piece]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )


class PieceSink:
    """Collects what the parser paths decode, measurement by measurement."""

    def __init__(self) -> None:
        self.measurements: dict[str, _Measurement] = {}

    def _get(self, name: str) -> _Measurement:
        found = self.measurements.get(name)
        if found is None:
            found = self.measurements[name] = _Measurement()
        return found

    def rows(self, name: str, lines: np.ndarray, times: np.ndarray, has_time: np.ndarray) -> None:
        """Rows of ``name``: their line numbers and raw timestamps (valid where has_time)."""
        m = self._get(name)
        m.lines.append(np.asarray(lines, dtype=np.int64))
        m.times.append(np.asarray(times, dtype=np.int64))
        m.has_time.append(np.asarray(has_time, dtype=bool))

    def tag(self, name: str, key: str, lines: np.ndarray, values: pa.Array) -> None:
        """Values of tag ``key`` on the given lines."""
        self._get(name).tags[key].append((np.asarray(lines, dtype=np.int64), values))

    def field(self, name: str, key: str, kind: str, lines: np.ndarray, values: pa.Array) -> None:
        """Values of field ``key``, all of one kind, on the given lines."""
        self._get(name).fields[key][kind].append((np.asarray(lines, dtype=np.int64), values))


@dataclass(frozen=True)
class MeasurementBatch:
    """The accepted rows of one measurement, column by column, in body order.

    What both parser paths assemble into, and what Arrow writers are mapped onto
    (``engine.arrow_rows``): the one record the write path validates and stores.
    """

    measurement: str
    tags: dict[str, pa.Array]
    fields: dict[str, pa.Array]
    time: pa.Array
    line_numbers: pa.Array


def _concat(pieces: list[Piece]) -> Piece:
    if len(pieces) == 1:
        return pieces[0]
    lines = np.concatenate([p[0] for p in pieces])
    arrays = [p[1] for p in pieces]
    if len({a.type for a in arrays}) > 1:  # tags: dictionary (fast path) and utf8 (exact)
        arrays = [a.cast(pa.string()) for a in arrays]
    values = pa.concat_arrays(arrays)
    if (lines[1:] >= lines[:-1]).all():  # pieces of one path come in line order
        return lines, values
    order = np.argsort(lines, kind="stable")
    return lines[order], values.take(pa.array(order))


def assemble(
    sink: PieceSink,
    precision: Precision,
    default_time_ns: int,
    limits: IngestLimits | None = None,
) -> tuple[list[MeasurementBatch], dict[int, str]]:
    """Merge the pieces into measurements; also return {line number: error} of rejected lines.

    Lines with a tag or string field value over ``limits`` are rejected, naming the limit.
    """
    limits = limits or IngestLimits()
    rejected: dict[int, str] = {}
    staged = []
    for name, m in sink.measurements.items():
        lines = np.concatenate(m.lines)
        order = np.argsort(lines, kind="stable")
        lines = lines[order]
        raw = np.concatenate(m.times)[order]
        has_time = np.concatenate(m.has_time)[order]
        ns, overflow = scale_to_nanoseconds(precision, raw)
        times = np.where(has_time, ns, default_time_ns)
        for line in lines[overflow & has_time]:
            rejected[int(line)] = f"timestamp {raw[lines == line][0]} out of range for {precision}"
        tags = {key: _concat(pieces) for key, pieces in m.tags.items()}
        for key, (tag_lines, _) in tags.items():
            for line in tag_lines[1:][np.diff(tag_lines) == 0]:
                rejected.setdefault(int(line), f'duplicate tag key "{key}"')
        fields = {
            key: {kind: _concat(pieces) for kind, pieces in kinds.items()}
            for key, kinds in m.fields.items()
        }
        for key, piece in tags.items():
            _reject_long(piece, limits.max_tag_value_bytes, f'tag "{key}"', "tag", rejected)
        for key, kinds in fields.items():
            if "string" in kinds:
                what = f'field "{key}"'
                _reject_long(kinds["string"], limits.max_field_value_bytes, what, "field", rejected)
        staged.append((name, lines, times, tags, fields))

    _reject_type_conflicts(staged, rejected)
    dead = np.array(sorted(rejected), dtype=np.int64)
    result = []
    for name, lines, times, tags, fields in staged:
        keep = ~np.isin(lines, dead)
        if not keep.any():
            continue
        lines, times = lines[keep], times[keep]
        tag_columns = {k: _dictionary(_scatter(lines, *piece)) for k, piece in tags.items()}
        field_columns = {}
        for key, kinds in fields.items():
            kind = _winner(kinds, dead)
            if kind is not None:
                column = _scatter(lines, *kinds[kind])
                field_columns[key] = column.cast(FieldType(kind).arrow_type)
        result.append(
            MeasurementBatch(
                name,
                {k: v for k, v in tag_columns.items() if v.null_count < len(v)},
                {k: v for k, v in field_columns.items() if v.null_count < len(v)},
                pa.array(times, pa.int64()),
                pa.array(lines.astype(np.int32), pa.int32()),
            )
        )
    result.sort(key=lambda m: m.line_numbers[0].as_py())
    return result, rejected


def _reject_long(piece: Piece, limit: int, what: str, flag: str, rejected: dict[int, str]) -> None:
    """Reject the lines whose value in ``piece`` is over ``limit`` bytes (one vector compare)."""
    lines, values = piece
    if isinstance(values, pa.DictionaryArray):
        sizes = pc.binary_length(values.dictionary).to_numpy(zero_copy_only=False)
        if not len(sizes) or sizes.max() <= limit:  # the usual case: no row to look at
            return
        lengths = sizes[values.indices.to_numpy(zero_copy_only=False)]
    else:
        lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    for at in np.flatnonzero(lengths > limit).tolist():
        rejected.setdefault(
            int(lines[at]),
            f"{what} value is {int(lengths[at])} bytes, over the limit of {limit} "
            f"(--max-{flag}-value-bytes)",
        )


def _dictionary(values: pa.Array) -> pa.Array:
    """Tags as ``dictionary<int32, utf8>``, as the fast path makes them and storage wants."""
    return values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)


def _alive(lines: np.ndarray, dead: np.ndarray) -> np.ndarray:
    return lines if not len(dead) else lines[~np.isin(lines, dead)]


def _winner(kinds: dict[str, Piece], dead: np.ndarray) -> str | None:
    """The kind whose first live line comes first (None if no live line has the column).

    A line that gives one field two kinds (``v=1i,v=2``) ties: the kind's name breaks
    the tie, because the two paths hand over a line's kinds in different orders.
    """
    alive = {k: _alive(p[0], dead) for k, p in kinds.items()}
    firsts = {k: int(v[0]) for k, v in alive.items() if len(v)}
    return min(firsts, key=lambda k: (firsts[k], k)) if firsts else None


def _reject_type_conflicts(staged: list, rejected: dict[int, str]) -> None:
    """Reject lines whose field type differs from the type first seen on a live line.

    A rejected line adds no type, so rejecting the line that set a column's type can
    change that column's winner. Each pass rejects conflicts in line order up to the
    first such line, then looks again; conflicts before it cannot depend on it.
    """
    while True:
        dead = np.array(sorted(rejected), dtype=np.int64)
        conflicts: dict[int, str] = {}
        firsts: set[int] = set()
        for _name, _lines, _times, _tags, fields in staged:
            for key, kinds in sorted(fields.items()):  # sorted: same message on both paths
                if len(kinds) < 2:
                    continue
                winner = _winner(kinds, dead)
                if winner is None:
                    continue
                firsts.add(int(_alive(kinds[winner][0], dead)[0]))
                winner_lines = kinds[winner][0]
                for kind, (lines, _) in sorted(kinds.items()):
                    alive = _alive(lines, dead)
                    if kind == winner or not len(alive):
                        continue
                    message = (
                        f'field type conflict on column "{key}": line has {kind}, '
                        f"earlier lines have {winner}"
                    )
                    both = f'field type conflict on column "{key}": line has {winner} and {kind}'
                    for line in alive.tolist():
                        conflicts.setdefault(line, both if line in winner_lines else message)
        if not conflicts:
            return
        for line in sorted(conflicts):
            rejected[line] = conflicts[line]
            if line in firsts:
                break


def _scatter(lines: np.ndarray, piece_lines: np.ndarray, values: pa.Array) -> pa.Array:
    """``values`` placed at the rows of ``lines`` they belong to, null elsewhere.

    A line with the column twice keeps its last value.
    """
    n = len(lines)
    if len(piece_lines) == n and np.array_equal(piece_lines, lines):
        return values
    position = np.searchsorted(lines, piece_lines)
    found = position < n
    found[found] = lines[position[found]] == piece_lines[found]
    index = np.full(n, -1, dtype=np.int64)
    index[position[found]] = np.flatnonzero(found)
    return values.take(pa.array(index, mask=index < 0))
