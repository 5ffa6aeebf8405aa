"""The Parquet cache: recent data files kept in memory, decoded, for queries.

InfluxDB 3 keeps recently persisted Parquet files in memory (its "parquet cache") because
decoding Parquet costs more than the query on top of it. flight-iox does the same: a
file a query reads is loaded once in the data model's Arrow types (tags as dictionaries,
exact nanosecond time) and its table is served from memory until it is evicted, within
a byte budget (``--parquet-cache-size``; 0 turns the cache off).

Which files: the newest data, across all tables. A file is loaded only if it fits in the
budget after evicting files whose data is older than its own (by max time), oldest first;
it never evicts newer data. So the cache converges on the most recent files of every table,
and tables that take turns cannot evict each other's files back and forth (which would
decode a file per write); older files are read from Parquet as before. Data files never
change (compaction and deletes write new ones), so an entry is valid for as long as its
file is in a table; ``keep_only`` drops the rest.

A file that cannot be loaded (missing, truncated, not Parquet) is simply not cached: the
table builder then checks it and reports it to the queries that need it
(``file_checks.py``). The cache never raises for one bad file, so other tables go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa

from iox_catalog.files import DataFile

# Estimated decoded bytes per value when deciding whether a file fits before reading it.
_BYTES_PER_VALUE = 8

Loader = Callable[[DataFile, pa.Schema], pa.Table]
Given = Mapping[str, Callable[[pa.Schema], pa.Table]] | None  # loads of some files, by path


class FileCache:
    """Decoded data files by path, the newest data kept within ``capacity`` bytes."""

    def __init__(self, capacity: int, load: Loader) -> None:
        """``load(file, schema)`` reads one file in the data model's shape."""
        self.capacity = capacity
        self._load = load
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, pa.Table]] = {}  # path: (max time, rows)
        self._used = 0
        self.hits = 0  # lookups found decoded (for the hit ratio of /metrics)
        self.misses = 0  # lookups not found (loaded now, or left to the Parquet reader)

    @property
    def used_bytes(self) -> int:
        """Bytes of decoded data held."""
        return self._used

    @property
    def paths(self) -> set[str]:
        """The files held."""
        with self._lock:
            return set(self._entries)

    def tables(
        self, files: Sequence[DataFile], schema: pa.Schema, given: Given = None
    ) -> dict[str, pa.Table]:
        """The cached tables of ``files`` (loading those that may be), by path.

        ``given``: loads of some files by path that return what a read would (a writer's
        rows, just written), called instead of reading those files.
        Files missing from the result are to be read from Parquet.
        """
        if self.capacity <= 0:
            return {}
        found: dict[str, pa.Table] = {}
        for file in sorted(files, key=lambda f: f.max_time_us, reverse=True):
            with self._lock:
                entry = self._entries.get(file.path)
                if entry is None:
                    self.misses += 1
                else:
                    self.hits += 1
            if entry is None and self._has_room(file, schema):
                try:
                    if given and file.path in given:
                        loaded = given[file.path](schema)
                    else:
                        loaded = self._load(file, schema)
                except (OSError, pa.ArrowException):  # the table builder reports the file
                    continue
                self._put(file, loaded)
                with self._lock:
                    entry = self._entries.get(file.path)
            if entry is not None:
                found[file.path] = entry[1]
        return found

    def held(self, files: Sequence[DataFile]) -> dict[str, pa.Table]:
        """The tables of ``files`` held now, by path; nothing is loaded (nor counted)."""
        with self._lock:
            return {f.path: self._entries[f.path][1] for f in files if f.path in self._entries}

    def keep_only(self, paths: set[str]) -> None:
        """Drop the files no table holds any more."""
        with self._lock:
            for path in [p for p in self._entries if p not in paths]:
                self._used -= self._entries.pop(path)[1].nbytes

    def _older(self, max_time_us: int) -> list[str]:
        """Cached files with data older than ``max_time_us``, oldest first (``_lock`` held)."""
        older = [(t, p) for p, (t, _) in self._entries.items() if t < max_time_us]
        return [p for _, p in sorted(older)]

    def _has_room(self, file: DataFile, schema: pa.Schema) -> bool:
        """Whether ``file`` would fit after evicting only older data."""
        estimate = file.record_count * len(schema) * _BYTES_PER_VALUE
        with self._lock:
            evictable = sum(self._entries[p][1].nbytes for p in self._older(file.max_time_us))
            return self._used - evictable + estimate <= self.capacity

    def _put(self, file: DataFile, table: pa.Table) -> None:
        with self._lock:
            if file.path in self._entries:
                return
            for victim in self._older(file.max_time_us):
                if self._used + table.nbytes <= self.capacity:
                    break
                self._used -= self._entries.pop(victim)[1].nbytes
            if self._used + table.nbytes <= self.capacity:  # else larger than estimated
                self._entries[file.path] = (file.max_time_us, table)
                self._used += table.nbytes
