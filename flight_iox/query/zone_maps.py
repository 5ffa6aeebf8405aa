"""Which rows of a decoded data file a statement can need: min/max per chunk of rows.

A file the Parquet cache holds is served to DataFusion from memory (``tables.py``), where
nothing prunes it: a query over one host for one hour reads all of the file's rows, and a
memory table of more than one batch makes DataFusion plan for several partitions (a hash
repartition, a final aggregation per partition, a merge), which costs a small query more
than its rows. Files are sorted by tags then time (``persist/parquet_files.py``), so the
rows of one series, and of one time range within it, are contiguous.

A zone map keeps, per chunk of ``CHUNK_ROWS`` rows, the time range and, per tag, the
smallest and greatest value (as ranks in the file's sorted values). ``ZoneMap.slices``
keeps the runs of chunks that may hold a row a statement's key predicates allow
(``scan_needs.ScanNeeds``: time bounds, tag values). Only key predicates are used, so a
chunk left out holds no row the query could see; the query's own filter still runs on
the rows kept. Used only for files in no overlap group (nothing to deduplicate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.query.scan_needs import ScanNeeds

CHUNK_ROWS = 1024


@dataclass(frozen=True)
class TagZones:
    """One tag's values in a file: the rank of each value, and each chunk's rank range."""

    rank: dict[str, int]  # value -> its rank among the file's sorted values
    low: np.ndarray  # per chunk: the smallest rank (len(rank) if the chunk has no value)
    high: np.ndarray  # per chunk: the greatest rank (-1 if the chunk has no value)


@dataclass(frozen=True)
class ZoneMap:
    """Per chunk of ``CHUNK_ROWS`` rows of a table: its time range and tag ranges."""

    rows: int
    chunk: int  # rows per chunk
    first: np.ndarray  # per chunk: the first nanosecond
    last: np.ndarray  # per chunk: the last nanosecond
    tags: dict[str, TagZones]

    @classmethod
    def of(cls, table: pa.Table, chunk: int = CHUNK_ROWS) -> ZoneMap:
        """The zone map of a decoded file (tags as dictionaries or strings, time in ns)."""
        starts = np.arange(0, max(table.num_rows, 1), chunk)
        if table.num_rows == 0:
            empty = np.empty(0, np.int64)
            return cls(0, chunk, empty, empty, {})
        time = table.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
        tags = {
            f.name: _tag_zones(table.column(f.name), starts)
            for f in table.schema
            if role_of(f) is ColumnRole.TAG
        }
        first = np.minimum.reduceat(time, starts)
        last = np.maximum.reduceat(time, starts)
        return cls(table.num_rows, chunk, first, last, tags)

    def slices(self, needs: ScanNeeds) -> list[tuple[int, int]]:
        """The (offset, length) runs of rows that may hold a row ``needs`` allows."""
        keep = np.ones(len(self.first), dtype=bool)
        if needs.first is not None:
            keep &= self.last >= needs.first
        if needs.last is not None:
            keep &= self.first <= needs.last
        for tag, values in needs.tags:
            zones = self.tags.get(tag)
            hold = np.zeros(len(keep), dtype=bool)
            if zones is not None:  # else no such tag: null in every row, equal to no value
                for value in values:
                    rank = zones.rank.get(value)
                    if rank is not None:
                        hold |= (zones.low <= rank) & (rank <= zones.high)
            keep &= hold
        runs: list[tuple[int, int]] = []
        for index in np.flatnonzero(keep).tolist():
            offset = index * self.chunk
            length = min(self.chunk, self.rows - offset)
            if runs and runs[-1][0] + runs[-1][1] == offset:
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((offset, length))
        return runs


class ZoneMaps:
    """The zone maps of decoded files, by path, each made on first need (call under the
    table builder's lock)."""

    def __init__(self, chunk: int | None = None) -> None:
        self._chunk = chunk or CHUNK_ROWS
        self._maps: dict[str, ZoneMap] = {}

    def needed(self, path: str, rows: pa.Table, needs: ScanNeeds | None) -> pa.Table:
        """A decoded file's ``rows`` cut to the runs ``needs`` may need (zero-copy slices)."""
        runs = self._runs(path, rows, needs)
        if runs is None:
            return rows
        if len(runs) == 1 and runs[0] == (0, rows.num_rows):
            return rows
        if not runs:
            return rows.slice(0, 0)
        return pa.concat_tables([rows.slice(offset, length) for offset, length in runs])

    def needed_count(self, path: str, rows: pa.Table, needs: ScanNeeds | None) -> int:
        """How many rows ``needed`` keeps, without cutting them."""
        runs = self._runs(path, rows, needs)
        return rows.num_rows if runs is None else sum(length for _, length in runs)

    def _runs(
        self, path: str, rows: pa.Table, needs: ScanNeeds | None
    ) -> list[tuple[int, int]] | None:
        """The runs of ``rows`` ``needs`` may need (None: all of them, nothing to cut by)."""
        if needs is None or (needs.first is None and needs.last is None and not needs.tags):
            return None
        zones = self._maps.get(path)
        if zones is None:
            zones = self._maps[path] = ZoneMap.of(rows, self._chunk)
        return zones.slices(needs)

    def keep_only(self, paths: set[str]) -> None:
        """Drop the maps of files no table holds any more."""
        for path in set(self._maps) - paths:
            del self._maps[path]


def _tag_zones(column: pa.ChunkedArray, starts: np.ndarray) -> TagZones:
    """Rank ranges of one tag column per chunk (nulls hold no value)."""
    plain = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
    encoded = pc.dictionary_encode(plain.combine_chunks())
    values = encoded.dictionary
    if len(values) == 0:  # every row null
        return TagZones({}, np.zeros(len(starts), np.int64), np.full(len(starts), -1))
    order = pc.array_sort_indices(values).to_numpy()
    rank_of = np.empty(len(values), np.int64)
    rank_of[order] = np.arange(len(values))
    index = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    present = index >= 0
    ranks = rank_of[np.where(present, index, 0)]
    low = np.minimum.reduceat(np.where(present, ranks, len(values)), starts)
    high = np.maximum.reduceat(np.where(present, ranks, -1), starts)
    sorted_values = values.take(pa.array(order)).to_pylist()
    return TagZones({v: i for i, v in enumerate(sorted_values)}, low, high)
