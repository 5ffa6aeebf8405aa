"""The Parquet cache: recent data files kept in memory, decoded, for queries.

InfluxDB 3 keeps recently persisted Parquet files in memory (its "parquet cache") because
decoding Parquet costs more than the query on top of it. flight-iox does the same: a
file a query reads is loaded once in the data model's Arrow types (tags as dictionaries,
exact nanosecond time) and its table is served from memory until it is evicted, within
a byte budget (``--parquet-cache-size``; 0 turns the cache off).

Which files: the newest first. A table's files are offered newest (by max time) first,
and a file is only loaded while the budget has room for it without evicting a file
offered in the same round, so recent data stays in memory and a long history does not
thrash the cache; older files are read from Parquet as before. Data files never change
(compaction and deletes write new ones), so an entry is valid for as long as its file
is in a table; ``keep_only`` drops the rest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import pyarrow as pa

from iox_catalog.files import DataFile

# Estimated decoded bytes per value when deciding whether a file fits before reading it.
_BYTES_PER_VALUE = 8

Loader = Callable[[DataFile, pa.Schema], pa.Table]


class FileCache:
    """Decoded data files by path, least recently used evicted first, within ``capacity``."""

    def __init__(self, capacity: int, load: Loader) -> None:
        """``load(file, schema)`` reads one file in the data model's shape."""
        self.capacity = capacity
        self._load = load
        self._lock = threading.Lock()
        self._tables: OrderedDict[str, pa.Table] = OrderedDict()
        self._used = 0

    @property
    def used_bytes(self) -> int:
        """Bytes of decoded data held."""
        return self._used

    def tables(self, files: Sequence[DataFile], schema: pa.Schema) -> dict[str, pa.Table]:
        """The cached tables of ``files`` (loading what fits, newest first), by path.

        Files missing from the result are to be read from Parquet.
        """
        if self.capacity <= 0:
            return {}
        found: dict[str, pa.Table] = {}
        offered: set[str] = set()
        for file in sorted(files, key=lambda f: f.max_time_us, reverse=True):
            offered.add(file.path)
            table = self._get(file.path)
            if table is None and self._has_room(file, schema, offered):
                table = self._load(file, schema)
                self._put(file.path, table, offered)
            if table is not None and file.path in self._tables:
                found[file.path] = table
        return found

    def keep_only(self, paths: set[str]) -> None:
        """Drop the files no table holds any more."""
        with self._lock:
            for path in [p for p in self._tables if p not in paths]:
                self._used -= self._tables.pop(path).nbytes

    def _get(self, path: str) -> pa.Table | None:
        with self._lock:
            table = self._tables.get(path)
            if table is not None:
                self._tables.move_to_end(path)
            return table

    def _has_room(self, file: DataFile, schema: pa.Schema, offered: set[str]) -> bool:
        """Whether ``file`` fits after evicting only files not offered in this round."""
        estimate = file.record_count * len(schema) * _BYTES_PER_VALUE
        with self._lock:
            evictable = sum(t.nbytes for p, t in self._tables.items() if p not in offered)
            return self._used - evictable + estimate <= self.capacity

    def _put(self, path: str, table: pa.Table, offered: set[str]) -> None:
        with self._lock:
            if path in self._tables:
                return
            self._tables[path] = table
            self._used += table.nbytes
            for victim in [p for p in self._tables if p not in offered]:
                if self._used <= self.capacity:
                    break
                self._used -= self._tables.pop(victim).nbytes
            if self._used > self.capacity:  # larger than estimated: not kept
                self._used -= self._tables.pop(path).nbytes
