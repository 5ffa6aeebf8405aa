"""A map that keeps only its most recently used entries, shared safely between threads.

Flight SQL's sessions and the parsed series keys of the write path each keep the last few of
something: a read counts as a use, a write past the capacity drops the entry used longest
ago, and both happen on several threads at once, so one lock guards the map.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LockedLru(Generic[K, V]):
    """At most ``capacity`` entries, least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._held: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._held.get(key)
            if found is not None:
                self._held.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``; past the capacity, the least recently used leaves."""
        with self._lock:
            self._held[key] = value
            self._held.move_to_end(key)
            while len(self._held) > self._capacity:
                self._held.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key`` (nothing if it is not kept)."""
        with self._lock:
            self._held.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._held.clear()
