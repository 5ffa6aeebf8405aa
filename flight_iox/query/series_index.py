"""Whether two sources of a table share a series in time: the finest overlap check.

``overlap.py`` pairs sources whose time ranges and tag bounds meet; each such pair is then
asked here (a ``SeriesCheck``) whether some series is in both at intersecting times
(``engine/series_ranges.py``). A data file's ranges come from its writer (persist and
compaction hand them over) or, once per process, from its Parquet footer; they are kept by
path, within a byte bound, and so is the answer for each pair of files (files never change).
The buffer's ranges are computed at each query from its rows inside the pair's time window
only (the edge where it meets a file: usually a few seconds of rows).

Anything unknown (a file written before ranges were stored, one past ``MAX_SERIES`` series,
an unreadable footer) answers "they may meet": the pair is deduplicated as before.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.engine.series_ranges import FOOTER_KEY, SeriesRanges, decode, ranges_of
from flight_iox.query.overlap import SourceRange, Window
from iox_catalog.storage import Storage

log = logging.getLogger(__name__)
RANGES_BYTES = 32 << 20  # the files' ranges kept (400 series of two short tags: ~12 KB)
ENTRY_BYTES = 256  # counted for each file's entry besides its ranges (a path, the dict's)
PAIRS = 16_384  # answers kept for pairs of files (about 3 MB)
# Buffered rows in a window compared at most, at each query: all of a 1M-row buffer took
# 19 ms, its edge (5 ms of rows) 2.3 ms; a buffer wholly inside a file's time range (a
# backfill) is deduplicated with the file, as before series ranges.
EDGE_ROWS = 65_536
_UNKNOWN = object()


class SeriesIndex:
    """The data files' series ranges by path, and which pairs of files share a series."""

    def __init__(self, storage: Storage | None, capacity_bytes: int = RANGES_BYTES) -> None:
        """``storage`` reads a footer for a file not seen written (None: never read)."""
        self._storage = storage
        self._capacity = capacity_bytes
        self._lock = threading.Lock()
        self._ranges: OrderedDict[str, SeriesRanges | None] = OrderedDict()
        self._bytes = 0
        self._pairs: OrderedDict[tuple[str, str], bool] = OrderedDict()

    def put(self, path: str, ranges: SeriesRanges | None) -> None:
        """The ranges of a file just written (None: it has none)."""
        with self._lock:
            self._keep(path, ranges)

    def ranges(self, path: str) -> SeriesRanges | None:
        """The file's ranges: kept, or read from its footer (None: unknown)."""
        with self._lock:
            found = self._ranges.get(path, _UNKNOWN)
            if found is not _UNKNOWN:
                self._ranges.move_to_end(path)
                return found  # type: ignore[return-value]
        ranges, lasting = self._read(path)
        if lasting:  # a failed read (storage down) is tried again next time
            with self._lock:
                self._keep(path, ranges)
        return ranges

    def files_meet(self, a: str, b: str) -> bool:
        """Whether files ``a`` and ``b`` share a series at intersecting times."""
        pair = (a, b) if a <= b else (b, a)
        with self._lock:
            known = self._pairs.get(pair)
            if known is not None:
                self._pairs.move_to_end(pair)
                return known
        first, second = self.ranges(a), self.ranges(b)
        if first is None or second is None:  # unknown (and cheap to ask again): may meet
            return True
        meet = first.meets(second)
        with self._lock:
            self._pairs[pair] = meet
            while len(self._pairs) > PAIRS:
                self._pairs.popitem(last=False)
        return meet

    def check(self, buffered: pa.Table | None = None) -> SeriesCheck:
        """The check for one table's sources: its files, and ``buffered`` (its buffer)."""
        return SeriesCheck(self, buffered)

    def _keep(self, path: str, ranges: SeriesRanges | None) -> None:
        if path in self._ranges:
            self._bytes -= _entry_bytes(path, self._ranges.pop(path))
        self._ranges[path] = ranges
        self._bytes += _entry_bytes(path, ranges)
        while self._bytes > self._capacity and len(self._ranges) > 1:
            dropped, held = self._ranges.popitem(last=False)
            self._bytes -= _entry_bytes(dropped, held)

    def _read(self, path: str) -> tuple[SeriesRanges | None, bool]:
        """The ranges in the file's footer, and whether that answer lasts (the file has
        none, or unreadable ones: it never changes) or may differ next time (storage failed)."""
        if self._storage is None:
            return None, True
        try:
            with self._storage.filesystem.open_input_file(self._storage.path(path)) as file:
                value = (pq.read_metadata(file).metadata or {}).get(FOOTER_KEY)
        except OSError as error:  # unknown for now: they may meet
            log.debug("no series ranges read for %s: %s", path, error)
            return None, False
        except (ValueError, pa.ArrowException) as error:  # not a footer we can read
            log.debug("no series ranges in %s: %s", path, error)
            return None, True
        try:
            return (None if value is None else decode(value)), True
        except (ValueError, pa.ArrowException) as error:
            log.warning("the series ranges of %s cannot be read; bounds decide: %s", path, error)
            return None, True


class SeriesCheck:
    """Whether two sources of one table share a series in their common time window."""

    def __init__(self, index: SeriesIndex, buffered: pa.Table | None) -> None:
        self._index = index
        self._buffered = buffered

    def __call__(self, a: SourceRange, b: SourceRange, window: Window) -> bool:
        """False only when no series is in both ``a`` and ``b`` at intersecting times."""
        if a.path is not None and b.path is not None:
            return self._index.files_meet(a.path, b.path)
        file = a if a.path is not None else b
        if file.path is None or self._buffered is None:
            return True
        ranges = self._index.ranges(file.path)
        if ranges is None:
            return True
        try:
            edge = buffer_ranges(self._buffered, window)
        except pa.ArrowException as error:  # unknown: they may meet (never a failed query)
            log.warning("series of the buffer not compared, deduplicated instead: %s", error)
            return True
        return edge is None or ranges.meets(edge)


def buffer_ranges(rows: pa.Table, window: Window) -> SeriesRanges | None:
    """The series ranges of ``rows`` whose time is inside ``window`` (None: past
    ``EDGE_ROWS`` rows or ``MAX_SERIES`` series, compared by bounds alone as before)."""
    tags = [f.name for f in rows.schema if role_of(f) is ColumnRole.TAG]
    times = rows.column(TIME_COLUMN).cast(pa.int64())
    inside = pc.and_(pc.greater_equal(times, window[0]), pc.less_equal(times, window[1]))
    if (pc.sum(inside).as_py() or 0) > EDGE_ROWS:
        return None
    columns = [rows.column(t) for t in tags]
    edge = pa.table([*columns, times], names=[f"c{i}" for i in range(len(tags) + 1)])
    edge = edge.filter(inside)  # positional names: a tag may be called anything
    return ranges_of(edge.columns[:-1], tags, edge.columns[-1])


def _entry_bytes(path: str, ranges: SeriesRanges | None) -> int:
    return ENTRY_BYTES + len(path) + (ranges.nbytes if ranges is not None else 0)
