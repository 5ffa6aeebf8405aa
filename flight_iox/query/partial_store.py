"""The kept per-file partial aggregates: least recently used out first, within a byte bound.

An entry costs more than its Arrow buffers: the ``pa.Table`` and its schema, fields,
chunked arrays and array data are C++ and Python objects of their own, and the key holds
the file's path and the scope. A partial of a statement that matched no row has no buffer
at all (``nbytes`` 0), so counting buffers only let a table of many files, or a statement
whose time literal moves at every run, fill the cache without bound (the review's case).
Each entry is counted as its buffers, ``ENTRY_BYTES`` for the objects (measured: the
resident growth per kept empty partial of three columns, 1.6-1.7 KB, rounded up; wider
partials cost more objects, and their buffers dominate) and the Python size of its key.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable

import pyarrow as pa

ENTRY_BYTES = 2048 + 128  # objects per kept table (measured, rounded up), per column below
COLUMN_BYTES = 256  # a field, a chunked array, its array data: per column of a partial


def entry_bytes(key: Hashable, partial: pa.Table) -> int:
    """What keeping ``partial`` under ``key`` costs, as counted against the bound."""
    return partial.nbytes + ENTRY_BYTES + COLUMN_BYTES * partial.num_columns + key_bytes(key)


def key_bytes(key: object) -> int:
    """The Python size of a key of tuples, frozensets, strings, bytes and integers."""
    size = sys.getsizeof(key)
    if isinstance(key, tuple | frozenset):
        size += sum(key_bytes(item) for item in key)
    return size


class PartialStore:
    """Partials by key, each with its cost; the least recently used go first."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[pa.Table, int]] = OrderedDict()
        self.used_bytes = 0
        self.hits = 0  # files whose partial was kept
        self.misses = 0  # files aggregated alone (and kept, if they fit)

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._kept

    def get(self, key: Hashable) -> pa.Table | None:
        """The kept partial (now the most recently used), or None."""
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return found[0]

    def keep(self, key: Hashable, partial: pa.Table) -> None:
        """Keep ``partial``, dropping the least recently used until the bound holds."""
        cost = entry_bytes(key, partial)
        with self._lock:
            self.misses += 1
            if cost > self.capacity_bytes or key in self._kept:
                return
            self._kept[key] = (partial, cost)
            self.used_bytes += cost
            while self.used_bytes > self.capacity_bytes:
                self.used_bytes -= self._kept.popitem(last=False)[1][1]

    def forget(self, prefix: tuple[object, ...]) -> None:
        """Drop the entries whose key starts with ``prefix`` (a dropped table or database)."""
        with self._lock:
            for key in [k for k in self._kept if _starts(k, prefix)]:
                self.used_bytes -= self._kept.pop(key)[1]


def _starts(key: Hashable, prefix: tuple[object, ...]) -> bool:
    return isinstance(key, tuple) and key[: len(prefix)] == prefix
