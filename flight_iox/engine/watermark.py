"""The applied watermark: every WAL sequence up to it is in the write buffer.

Writers append to the WAL concurrently and apply to the buffer afterwards, so
sequence 11 may be buffered before sequence 10. The persister may only claim to
have persisted up to a sequence that, with all before it, is in the buffer; this
is that sequence.
"""

from __future__ import annotations

import heapq
import threading


class SequenceWatermark:
    """Tracks applied sequences; ``value`` is the highest with no gap below it."""

    def __init__(self, start: int) -> None:
        self._lock = threading.Lock()
        self._value = start
        self._ahead: list[int] = []

    @property
    def value(self) -> int:
        """Every sequence up to this one is applied."""
        return self._value

    def applied(self, sequence: int) -> None:
        """Record that ``sequence`` is applied."""
        with self._lock:
            if sequence <= self._value:
                return
            heapq.heappush(self._ahead, sequence)
            while self._ahead and self._ahead[0] == self._value + 1:
                self._value = heapq.heappop(self._ahead)
