"""Holds on WAL truncation: readers that follow the log keep the entries they still need.

The persister deletes segments once their entries are in Parquet. A subscription or a
trigger that is behind (its destination is down, the server restarted) still needs
those entries, in write order, to deliver each write once more. So each such reader
holds the sequence it has handled through, and a segment is deleted only when every
holder is past it.

The hold is bounded (``max_bytes``): a destination that never comes back must not fill
the disk. When the segments kept for holders alone would pass the bound, the oldest are
deleted anyway; the reader then finds them missing (``FeedRead.missing``) and says so
(``system.subscriptions``). Their rows are not lost: they are in the table's files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)


class TruncationHolds:
    """Who holds which WAL sequence, and how far a deletion may go given them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._holds: dict[str, int] = {}

    def hold(self, holder: str, after: int) -> None:
        """Keep entries after ``after`` for ``holder`` (replaces its earlier hold)."""
        with self._lock:
            self._holds[holder] = after

    def release(self, holder: str) -> None:
        """Forget ``holder``'s hold."""
        with self._lock:
            self._holds.pop(holder, None)

    def held(self) -> dict[str, int]:
        """Every hold, by holder."""
        with self._lock:
            return dict(self._holds)

    def allowed(self, through: int, segments: Sequence[tuple[int, int]]) -> int:
        """How far a deletion wanting ``through`` may go: a sequence ``<= through``.

        ``segments`` are the closed segments a deletion could remove, oldest first, each
        as ``(last sequence, bytes)``. Segments wholly at or below the lowest hold go;
        the held ones stay while together they are within ``max_bytes``.
        """
        with self._lock:
            lowest = min(self._holds.values(), default=through)
        if lowest >= through:
            return through
        allowed = lowest
        held = [(last, size) for last, size in segments if lowest < last <= through]
        excess = sum(size for _, size in held) - self.max_bytes
        for last, size in held:
            if excess <= 0:
                break
            allowed, excess = last, excess - size
        if allowed > lowest:
            log.warning(
                "WAL entries %d..%d deleted although a reader held them: the holds passed "
                "--wal-hold-max-bytes (%d); the readers report them missing",
                lowest + 1,
                allowed,
                self.max_bytes,
            )
        return allowed
