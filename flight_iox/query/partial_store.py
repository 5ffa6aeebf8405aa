"""The kept per-file partial aggregates: least recently used out first, within a byte bound.

An entry costs more than its Arrow buffers' ``nbytes``. DataFusion's output arrays come with
the capacity their builders reserved: a one-row partial of three columns straight from
``collect`` kept 12 KB resident for 23 bytes of values, a thousand-row one 57 KB for 24 KB
(``bench/partial_entry_bytes.py``: the same loop keeping or dropping 500-4,000 partials,
resident memory compared). So a partial is copied into tight buffers before it is kept (3.6 KB and
33 KB then). What remains is the objects, the ``pa.Table``, its schema, fields, chunked
arrays and array data, and the key's strings and tuples: 2.0 KB for an empty partial of
three columns (which has no buffer at all, ``nbytes`` 0, so a table of many files or a
statement whose time literal moves at every run filled the cache without bound), 1.4-2.5 KB
over ``nbytes`` for the others, plus the allocator's rounding of each buffer (33 KB for the
thousand groups' 24 KB). Each entry is counted as 5/4 of its ``nbytes``, ``ENTRY_BYTES``,
``COLUMN_BYTES`` per column and the Python size of its key: for three columns and a typical
key 3.7 KB, 3.7 KB, 6.6 KB and 34 KB for 0, 1, 100 and 1,000 groups, at or above each
measurement (1.9, 3.6, 5.7 and 33 KB).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
import pyarrow as pa

ENTRY_BYTES = 1536  # the table and its schema (measured, see above)
COLUMN_BYTES = 512  # a field, a chunked array, an array and its buffers' allocations


def entry_bytes(key: Hashable, partial: pa.Table) -> int:
    """What keeping ``partial`` under ``key`` costs, as counted against the bound."""
    buffers = partial.nbytes * 5 // 4  # the allocator's size classes: up to a quarter more
    return buffers + ENTRY_BYTES + COLUMN_BYTES * partial.num_columns + key_bytes(key)


def key_bytes(key: object) -> int:
    """The Python size of a key of tuples, frozensets, strings, bytes and integers."""
    size = sys.getsizeof(key)
    if isinstance(key, tuple | frozenset):
        size += sum(key_bytes(item) for item in key)
    return size


def tight(partial: pa.Table) -> pa.Table:
    """``partial`` in buffers of its own size (DataFusion's carry their builders' capacity)."""
    if partial.num_rows == 0:
        return partial
    return partial.take(pa.array(np.arange(partial.num_rows)))


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
        """Keep ``partial`` (copied tight), dropping the least recently used until the bound
        holds."""
        cost = entry_bytes(key, partial)
        if cost <= self.capacity_bytes:
            partial = tight(partial)
        with self._lock:
            self.misses += 1
            if cost > self.capacity_bytes or key in self._kept:
                return
            self._kept[key] = (partial, cost)
            self.used_bytes += cost
            while self.used_bytes > self.capacity_bytes:
                self.used_bytes -= self._kept.popitem(last=False)[1][1]

    def discard(self, key: Hashable) -> None:
        """Drop one entry, if kept (one another entry now stands for)."""
        with self._lock:
            found = self._kept.pop(key, None)
            if found is not None:
                self.used_bytes -= found[1]

    def forget(self, prefix: tuple[object, ...]) -> None:
        """Drop the entries whose key starts with ``prefix`` (a dropped table or database)."""
        with self._lock:
            for key in [k for k in self._kept if _starts(k, prefix)]:
                self.used_bytes -= self._kept.pop(key)[1]


def _starts(key: Hashable, prefix: tuple[object, ...]) -> bool:
    return isinstance(key, tuple) and key[: len(prefix)] == prefix
