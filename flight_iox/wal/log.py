"""The write-ahead log: a folder of segment files, appended with group commit.

A write is acknowledged only once its entry is durable. fsync is the slow part,
so concurrent appenders share one (group commit): each appender writes its whole
record with one ``os.write`` under the lock, then waits until the durable
sequence reaches its own. The first waiter to find no fsync in progress becomes
the leader, releases the lock and fsyncs everything written so far; whoever wrote
meanwhile is covered by the next leader. A lone writer leads its own fsync at once.

Recovery rules (the reasons are in ``docs/wal.md``): a bad entry at the very end
of the last segment is a torn write that was never acknowledged, so the file is
truncated back to the last good entry. A bad entry anywhere else is corruption
and raises :class:`~flight_iox.errors.WalCorruptionError`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from types import TracebackType

from flight_iox.errors import WalCorruptionError, storage_full
from flight_iox.wal.holds import TruncationHolds
from flight_iox.wal.records import WalEntry, WalSnapshot
from flight_iox.wal.segment import (
    FILE_HEADER,
    SegmentScan,
    file_header,
    list_segments,
    new_frame,
    scan_segment,
    seal_frame,
    segment_name,
    valid_entry_after,
)

__all__ = ["WalEntry", "WalSnapshot", "WriteAheadLog"]

logger = logging.getLogger(__name__)

# fdatasync skips inode timestamps but still flushes the file size, which is all
# replay needs; macOS has no fdatasync.
_datasync = getattr(os, "fdatasync", os.fsync)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WriteAheadLog:
    """A folder of WAL segments: replay it once, then append to a fresh segment.

    ``fsync=False`` never calls fsync (tests, throwaway data). ``group_commit=False``
    makes every synced append pay for its own fsync while holding the lock; it
    exists as the baseline that ``bench/wal.py`` measures group commit against.
    ``on_sync(seconds, entries)`` hears of each group-commit fsync (the server's metrics).
    ``holds`` keeps segments that readers of the log still need (``holds.py``).
    """

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool = True,
        segment_bytes: int = 64 * 1024 * 1024,
        group_commit: bool = True,
        on_sync: Callable[[float, int], None] | None = None,
        holds: TruncationHolds | None = None,
    ) -> None:
        self._on_sync = on_sync
        self._holds = holds
        self._directory = Path(directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._group_commit = group_commit
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._fd: int | None = None
        self._active: Path | None = None
        self._segment_size = 0
        self._last_sequence = 0
        self._synced_sequence = 0
        self._syncing = False
        self._replayed = False
        self._closed = False
        self._failure: OSError | None = None
        self._sync_count = 0

    @property
    def directory(self) -> Path:
        """The folder holding the segment files."""
        return self._directory

    @property
    def last_sequence(self) -> int:
        """The highest sequence assigned so far (0 for an empty log)."""
        return self._last_sequence

    @property
    def sync_count(self) -> int:
        """How many times this log has fsynced segment data (group commits, rotations, close)."""
        return self._sync_count

    def segment_paths(self) -> list[Path]:
        """Every segment file in the folder, oldest first."""
        return [path for _, path in list_segments(self._directory)]

    def snapshot(self) -> WalSnapshot:
        """The last sequence and the segment bytes holding every entry up to it (backups)."""
        with self._lock:
            sizes = []
            for _, path in list_segments(self._directory):
                size = self._segment_size if path == self._active else path.stat().st_size
                sizes.append((path, size))
            return WalSnapshot(self._last_sequence, tuple(sizes))

    # -- replay -------------------------------------------------------------------------------

    def replay(self, after_sequence: int = 0) -> Iterator[WalEntry]:
        """Yield every entry with a sequence above ``after_sequence``, in order.

        The first replay is recovery: it truncates a torn tail and, once
        exhausted, opens a new segment for :meth:`append`. Later replays only read.
        """
        recovering = not self._replayed
        with self._lock:
            segments = list_segments(self._directory)
            active_size = self._segment_size if self._active else None
        expected: int | None = None
        last_scan: SegmentScan | None = None
        for index, (first, path) in enumerate(segments):
            is_last = index == len(segments) - 1
            if expected is not None and first != expected:
                raise WalCorruptionError(
                    str(path), 0, f"segment starts at sequence {first}, expected {expected}"
                )
            if not is_last and segments[index + 1][0] - 1 <= after_sequence:
                expected = segments[index + 1][0]  # wholly at or below after_sequence: skip
                continue
            data = path.read_bytes()
            if path == self._active and active_size is not None:
                data = data[:active_size]  # bytes written after the snapshot are not ours to judge
            scan = scan_segment(data, first)
            for sequence, payload in scan.entries:
                if sequence > after_sequence:
                    yield WalEntry(sequence, bytes(payload))
            if scan.bad_offset is not None:
                if not (recovering and is_last) or not self._is_torn_tail(data, scan):
                    raise WalCorruptionError(str(path), scan.bad_offset, scan.reason)
                self._truncate_torn_tail(path, scan)
            expected = scan.next_sequence
            last_scan = scan
        if recovering and not self._replayed:
            self._open_for_append(segments, last_scan, after_sequence)

    @staticmethod
    def _is_torn_tail(data: bytes, scan: SegmentScan) -> bool:
        """Whether a bad entry could be the one write a crash interrupted."""
        if scan.fatal or scan.bad_offset is None:
            return False
        if scan.torn_header:
            return True
        return valid_entry_after(data, scan.bad_offset, scan.next_sequence) is None

    def _truncate_torn_tail(self, path: Path, scan: SegmentScan) -> None:
        logger.warning(
            "WAL %s: dropping torn tail at offset %d (%s); it was never acknowledged",
            path,
            scan.bad_offset,
            scan.reason,
        )
        with open(path, "r+b") as file:
            if scan.torn_header:
                file.truncate(0)
                file.write(file_header(scan.first_sequence))
            else:
                file.truncate(scan.good_end)
            file.flush()
            if self._fsync:
                os.fsync(file.fileno())

    def _open_for_append(
        self, segments: list[tuple[int, Path]], last_scan: SegmentScan | None, after_sequence: int
    ) -> None:
        """Finish recovery: continue sequences and open the segment appends go to.

        A catalog that has persisted more than the WAL holds (its folder was
        emptied) moves the sequence forward, so new entries are never mistaken
        for persisted ones. An empty last segment is reused rather than left as
        a second file with the same first sequence.
        """
        next_sequence = last_scan.next_sequence if last_scan else 1
        next_sequence = max(next_sequence, after_sequence + 1)
        with self._lock:
            if last_scan is not None and not last_scan.entries:
                path = segments[-1][1]
                if last_scan.first_sequence == next_sequence:
                    self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                    self._active = path
                    self._segment_size = os.fstat(self._fd).st_size
                else:
                    path.unlink()
            if self._fd is None:
                self._create_segment(next_sequence)
            self._last_sequence = self._synced_sequence = next_sequence - 1
            self._replayed = True

    # -- append -------------------------------------------------------------------------------

    def append(self, payload: bytes, *, sync: bool = True) -> int:
        """Append one entry and return its sequence once it is durable.

        With ``sync=False`` (or a log opened with ``fsync=False``) it returns as
        soon as the record is handed to the OS: it survives the process dying,
        not the machine.
        """
        frame, payload_crc = new_frame(payload)  # copy and checksum outside the lock
        with self._cond:
            self._check_usable()
            try:
                while self._needs_rotation(len(frame)):
                    if self._syncing:  # a leader is fsyncing the current fd outside the lock
                        self._cond.wait()
                        self._check_usable()
                    else:
                        self._rotate()
                sequence = self._last_sequence + 1
                seal_frame(frame, sequence, payload_crc)
                self._write(frame)
            except OSError as error:
                # A full disk: the record was cut back out (``_write``), so nothing was
                # stored and the log goes on once space frees. Say so, naming the folder.
                full = storage_full(error, str(self._directory))
                if full is None:
                    raise
                raise full from error
            self._last_sequence = sequence
            if sync and self._fsync:
                if self._group_commit:
                    self._wait_durable(sequence)
                else:
                    self._sync_holding_lock()
        return sequence

    def _check_usable(self) -> None:
        if not self._replayed:
            raise RuntimeError("WriteAheadLog.replay() must be exhausted before the first append")
        if self._closed:
            raise RuntimeError(f"WAL {self._directory} is closed")
        if self._failure is not None:
            raise OSError(f"WAL {self._directory} failed earlier and is unusable") from (
                self._failure
            )

    def _needs_rotation(self, frame_size: int) -> bool:
        if self._fd is None:  # a rotation failed (disk full) after closing the old segment
            return True
        has_entries = self._segment_size > FILE_HEADER.size
        return has_entries and self._segment_size + frame_size > self._segment_bytes

    def _write(self, frame: bytearray) -> None:
        """Write one whole record; on failure cut the file back so no torn record stays."""
        assert self._fd is not None
        view = memoryview(frame)
        written = 0
        try:
            while written < len(view):  # a regular file only writes short when the disk fills
                written += os.write(self._fd, view[written:])
        except OSError as error:
            try:
                os.ftruncate(self._fd, self._segment_size)
            except OSError:
                self._failure = error
            raise
        self._segment_size += written

    def _wait_durable(self, sequence: int) -> None:
        """Group commit; called holding the lock, returns holding it."""
        while self._synced_sequence < sequence:
            if self._failure is not None:
                self._check_usable()
            if self._syncing:
                self._cond.wait()
                continue
            self._syncing = True
            target, fd = self._last_sequence, self._fd
            assert fd is not None
            self._lock.release()
            started = time.perf_counter()
            try:
                _datasync(fd)
            except OSError as error:
                # After a failed fsync Linux may drop the dirty pages; retrying would lie.
                self._failure = error
                raise
            finally:
                self._lock.acquire()
                self._syncing = False
                self._cond.notify_all()
            self._sync_count += 1
            if self._on_sync is not None:
                self._on_sync(time.perf_counter() - started, target - self._synced_sequence)
            self._synced_sequence = max(self._synced_sequence, target)

    def _sync_holding_lock(self) -> None:
        assert self._fd is not None
        if self._synced_sequence >= self._last_sequence:
            return
        try:
            _datasync(self._fd)
        except OSError as error:
            self._failure = error
            raise
        self._sync_count += 1
        self._synced_sequence = self._last_sequence
        self._cond.notify_all()

    def _rotate(self) -> None:
        """Close the full segment durably, so no later segment can outlive its tail."""
        if self._fd is not None:
            if self._fsync:
                self._sync_holding_lock()
            os.close(self._fd)
            self._fd = None
        self._create_segment(self._last_sequence + 1)

    def _create_segment(self, first_sequence: int) -> None:
        path = self._directory / segment_name(first_sequence)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            os.write(fd, file_header(first_sequence))
            if self._fsync:
                os.fsync(fd)
                _fsync_directory(self._directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._active, self._segment_size = fd, path, FILE_HEADER.size

    # -- housekeeping -------------------------------------------------------------------------

    def delete_segments_through(self, sequence: int) -> list[Path]:
        """Delete the closed segments whose entries are all ``<= sequence``; return their paths.

        The newest segment is never deleted, even when it is fully persisted: its
        name is what carries the sequence forward across a restart.
        """
        deleted: list[Path] = []
        with self._lock:
            segments = list_segments(self._directory)
            if self._holds is not None:
                closed = [(n - 1, p.stat().st_size) for (_, p), (n, _) in pairwise(segments)]
                sequence = self._holds.allowed(sequence, closed)
            for (_, path), (next_first, _) in pairwise(segments):
                if path == self._active or next_first - 1 > sequence:
                    break
                path.unlink()
                deleted.append(path)
            if deleted and self._fsync:
                _fsync_directory(self._directory)
        return deleted

    def close(self) -> None:
        """Fsync what is not yet durable and close the active segment. Idempotent."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._closed:
                return
            try:
                if self._fd is not None and self._fsync and self._failure is None:
                    self._sync_holding_lock()
            finally:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._closed = True
                self._cond.notify_all()

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
