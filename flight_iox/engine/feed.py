"""The acknowledged writes as a stream by WAL sequence (``ports.WalFeed``).

Subscriptions and triggers follow this instead of the WAL files: a write is published
here as it is acknowledged, and the most recent ones are kept in memory (the very
batches the buffer holds, up to ``memory_bytes``), so a reader that keeps up gets each
write without decoding or reading a file. A reader that is behind (its destination was
down, or the server restarted) reads from the WAL segments, and then from memory again
once it has caught up. Sequences are contiguous, so a gap is always seen: entries the
WAL deleted before the reader got to them are counted as ``missing``, never skipped
silently.

Waiters are woken on every acknowledgement (a condition variable), not on a timer: the
delay between a write's acknowledgement and a reader seeing it is a thread switch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.ports import AcknowledgedWrite, FeedRead
from flight_iox.wal import WalWrite, WriteAheadLog, decode_write
from flight_iox.wal.holds import TruncationHolds


class WriteFeed:
    """Recent acknowledged writes in memory, older ones from the WAL (``ports.WalFeed``)."""

    def __init__(
        self,
        wal: WriteAheadLog,
        watermark: SequenceWatermark,
        holds: TruncationHolds,
        memory_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """Build after recovery: entries up to ``wal.last_sequence`` are read from the WAL."""
        self._wal = wal
        self._watermark = watermark
        self._holds = holds
        self._memory_bytes = memory_bytes
        self._cond = threading.Condition()
        self._recent: dict[int, tuple[AcknowledgedWrite, int]] = {}
        self._floor = wal.last_sequence + 1  # the lowest sequence that may be in ``_recent``
        self._bytes = 0
        self._times: dict[int, float] = {}

    # --- the write path's side -------------------------------------------------------------

    def acknowledge(self, sequence: int, write: WalWrite) -> None:
        """A write is durable and buffered: advance the watermark and wake the readers.

        The entry is kept before the watermark moves, so a reader that sees the
        watermark at ``sequence`` always finds the entry.
        """
        entry = AcknowledgedWrite(
            sequence, write.database, tuple((t.table, t.batch) for t in write.tables)
        )
        # The buffers held, counted once each (``nbytes`` walked every column: 89 us a write).
        # Writes arrive compact (parsed, filtered or combined), so this is their size; a
        # zero-copy slice would count its parent's buffers and be evicted sooner, never later.
        size = sum(t.batch.get_total_buffer_size() for t in write.tables)
        with self._cond:
            if sequence >= self._floor:
                self._recent[sequence] = (entry, size)
                self._times[sequence] = time.time()
                self._bytes += size
            self._watermark.applied(sequence)
            self._evict()
            self._cond.notify_all()

    def _evict(self) -> None:
        """Drop the oldest entries past the memory bound (only contiguous, acknowledged ones)."""
        watermark = self._watermark.value
        while self._bytes > self._memory_bytes and self._floor <= watermark:
            held = self._recent.pop(self._floor, None)
            self._times.pop(self._floor, None)
            if held is not None:
                self._bytes -= held[1]
            self._floor += 1

    # --- readers ---------------------------------------------------------------------------

    @property
    def acknowledged(self) -> int:
        """Every write up to this sequence is acknowledged and readable."""
        return self._watermark.value

    def acknowledged_at(self, sequence: int) -> float | None:
        """When ``sequence`` was acknowledged (epoch seconds), while it is held in memory."""
        return self._times.get(sequence)

    def held_bytes_after(self, after: int) -> int:
        """The batch bytes of the acknowledged writes after ``after`` still held in memory
        (a replica's lag in bytes: older ones were evicted and are not counted)."""
        with self._cond:
            return sum(size for sequence, (_, size) in self._recent.items() if sequence > after)

    def wait(self, after: int, timeout: float, stopped: threading.Event | None = None) -> int:
        """Block until a write after ``after`` is acknowledged, ``timeout`` seconds pass or
        ``stopped`` is set (its setter calls ``wake``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._watermark.value <= after and not (stopped and stopped.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        return self._watermark.value

    def wake(self) -> None:
        """Have every ``wait`` look at its ``stopped`` now: a reader that stops need not wait
        out its timeout, and the others go on waiting."""
        with self._cond:
            self._cond.notify_all()

    def read(self, after: int, database: str | None = None, limit: int = 1024) -> FeedRead:
        """Up to ``limit`` acknowledged entries after ``after`` (of ``database``, if given)."""
        acknowledged = self._watermark.value
        if after >= acknowledged:
            return FeedRead((), after)
        with self._cond:
            floor = self._floor
        entries: list[AcknowledgedWrite] = []
        through, missing = after, 0
        if after + 1 < floor:
            through, missing = self._read_wal(after, min(floor - 1, acknowledged), limit, entries)
        if through < floor - 1 or len(entries) >= limit:
            return _matching(entries, database, through, missing)
        with self._cond:
            while through < acknowledged and len(entries) < limit:
                held = self._recent.get(through + 1)
                if held is None:
                    break  # evicted meanwhile: the next read takes it from the WAL
                entries.append(held[0])
                through += 1
        return _matching(entries, database, through, missing)

    def _read_wal(
        self, after: int, last: int, limit: int, entries: list[AcknowledgedWrite]
    ) -> tuple[int, int]:
        """Append the WAL's entries in ``(after, last]``; returns (through, missing)."""
        through, missing = after, 0
        try:
            for wal_entry in self._wal.replay(after_sequence=after):
                if wal_entry.sequence > last:
                    break
                if len(entries) >= limit:
                    return through, missing
                missing += wal_entry.sequence - through - 1
                write = decode_write(wal_entry.payload)
                tables = tuple((t.table, t.batch) for t in write.tables)
                entries.append(AcknowledgedWrite(wal_entry.sequence, write.database, tables))
                through = wal_entry.sequence
        except FileNotFoundError:
            return through, missing  # a segment deleted while read: the next read goes on
        # Every entry up to ``last`` was written before this read began, so what the WAL
        # no longer has was deleted (persisted, the holds overrun).
        return last, missing + last - through

    def hold(self, holder: str, after: int) -> None:
        """Keep the WAL entries after ``after`` for ``holder``."""
        self._holds.hold(holder, after)

    def release(self, holder: str) -> None:
        """Drop ``holder``'s hold."""
        self._holds.release(holder)


def _matching(
    entries: Iterable[AcknowledgedWrite], database: str | None, through: int, missing: int
) -> FeedRead:
    if database is not None:
        entries = [e for e in entries if e.database == database]
    return FeedRead(tuple(entries), through, missing)
