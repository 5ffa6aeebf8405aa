"""Encode big persists' files in a child process at a lower CPU weight (issue 20).

Issue 20's soak (two writers, a query every 200 ms, 2 cores) traced every query's Flight
calls beside the persister's steps (2026-12-06): the queries that met a persist were the
tail (p99 0.21 s against 0.064 s for the others), and of a persist's 0.6-0.8 s, 80% was
``encode_parts``: sorting a million rows, Parquet encoding, zstd. The query's own CPU grew
by 3 ms, its wall time by 25 ms and more: it waited for the interpreter's lock, which the
encoding takes between its Arrow calls, and for a core. Lowering the persister thread's
priority alone (``setpriority`` on its thread id, niceness 10, tried in the same soak) moved
the median and not the tail (p99 during persists 0.21 s either way): the lock is not
scheduled by priority. A thread's niceness is also inherited by the pool threads it starts
(Arrow's, PyIceberg's), which queries use later; a process of its own has none of that.

So a batch of at least ``--persist-encoder-min-rows`` rows is encoded in a child process
(``encoder_child.py``) at ``--persist-encoder-nice``: it holds its own interpreter lock and, at
the lower weight, runs on the cores the server's threads leave. The rows go to it as an
Arrow IPC stream in a scratch file, and the rows sorted and the Parquet files come back as
scratch files too. In ``/dev/shm`` (when it and the memory have room for three times the
batch) they are mapped, not copied: the new files' rows the Parquet cache takes live in
those pages. Elsewhere (the data folder's ``tmp/encode``) they are read into memory, so no
cache entry holds a deleted file on disk. The server stores and commits the files as before.
A batch so encoded needs about three times its size at its peak (its rows, in scratch; the
child's sorted copy; the answer), against about twice in the thread.

Failure model: the child is a cache of CPU, never a place data lives. Its rows are in the
buffer and the WAL until the commit, which the server makes. If the child cannot start,
dies (a ``kill -9``, the OOM killer), answers with an error or out of turn, or scratch has no
room, the batch is encoded in the server's own thread instead, with a warning, and a new
child is started for the next one; after ``FAILURES_TO_PAUSE`` failures in a row the child
is not tried for ``PAUSE_SECONDS``. Scratch folders carry the server's process id: those of
servers that are gone are removed when a server starts.
Smaller batches (a test's, a light load's) are encoded in the thread: starting the child
costs about a second of CPU once, a request a few milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

from flight_iox.persist.encoder_child import (
    EncodeAnswer,
    EncodeRequest,
    ShippedPart,
    command,
    read_message,
    write_message,
    write_stream,
)
from flight_iox.persist.parquet_files import EncodedPart, encode_parts
from iox_catalog.partitioning import Partitioning
from iox_catalog.schema import ColumnKinds

log = logging.getLogger(__name__)
SHARED_MEMORY = Path("/dev/shm")
SCRATCH_PREFIX = "flight-iox-encode-"
# Scratch room wanted per byte of rows: the rows going in, and the sorted rows coming back.
SCRATCH_FACTOR = 3
FAILURES_TO_PAUSE = 3
PAUSE_SECONDS = 300.0
# What a failed exchange with the child can raise: its pipe, scratch, the pickles, Arrow.
_CHILD_ERRORS = (OSError, EOFError, pa.ArrowException, pickle.PickleError, AttributeError,
                 ImportError, TypeError, ValueError)  # fmt: skip


class EncoderUnavailable(Exception):
    """The child could not encode a batch (it is encoded in the server's thread instead)."""


class PartEncoder:
    """``encode_parts`` for the server: big batches in the child, small ones in place."""

    def __init__(self, min_rows: int, nice: int, data_dir: Path) -> None:
        self.min_rows = min_rows  # 0: every batch in place
        self.command = command(nice)
        self._disk_scratch = data_dir / "tmp" / "encode"
        self._lock = threading.Lock()  # one request at a time on the one pipe
        self._child: subprocess.Popen[bytes] | None = None
        self._serial = 0
        self._failures = 0  # in a row
        self._paused_until = 0.0
        self._closed = False
        self.in_child = 0  # batches the child encoded
        self.in_thread = 0  # big batches encoded in the thread (the child failed or is off)
        if min_rows > 0:
            remove_stale_scratch(self._disk_scratch)

    def encode(
        self, data: pa.Table, kinds: ColumnKinds, partitioning: Partitioning
    ) -> list[EncodedPart]:
        """``data`` encoded by partition, in the child when it is big enough and works."""
        if self.min_rows <= 0 or data.num_rows < self.min_rows:
            return encode_parts(data, kinds, partitioning)
        with self._lock:
            if not self._closed and time.monotonic() >= self._paused_until:
                try:
                    parts = self._in_child(data, kinds, partitioning)
                    self.in_child += 1
                    self._failures = 0
                    return parts
                except EncoderUnavailable as error:
                    self._failed(data.num_rows, error)
            self.in_thread += 1
        return encode_parts(data, kinds, partitioning)

    def close(self) -> None:
        """Stop the child (it ends when its stdin does); later batches stay in the thread."""
        with self._lock:
            self._closed = True
            self._stop_child()

    def _failed(self, rows: int, error: EncoderUnavailable) -> None:
        self._failures += 1
        pause = self._failures >= FAILURES_TO_PAUSE
        if pause:
            self._paused_until = time.monotonic() + PAUSE_SECONDS
        log.warning("encoding %d rows in the server's thread: %s%s", rows, error,
                    f" ({self._failures} failures in a row: the encoder process is not tried "
                    f"for {PAUSE_SECONDS:.0f} s)" if pause else "")  # fmt: skip

    def _in_child(
        self, data: pa.Table, kinds: ColumnKinds, partitioning: Partitioning
    ) -> list[EncodedPart]:
        try:
            base, mapped = _scratch_base(SCRATCH_FACTOR * data.nbytes, self._disk_scratch)
            scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=base)
        except OSError as error:
            raise EncoderUnavailable(f"no scratch room: {error}") from error
        try:
            rows_path = os.path.join(scratch, "rows.arrows")
            write_stream(rows_path, data)
            self._serial += 1
            request = EncodeRequest(self._serial, rows_path, kinds, partitioning, scratch)
            answer = self._exchange(request)
            parts = [_received(part, mapped) for part in answer]
            if sum(part.rows.num_rows for part in parts) != data.num_rows:
                raise EncoderUnavailable("the encoder process lost rows (a bug)")
            return parts
        except _CHILD_ERRORS as error:
            raise EncoderUnavailable(f"{type(error).__name__}: {error}") from error
        finally:
            shutil.rmtree(scratch, ignore_errors=True)  # mapped rows outlive their files

    def _exchange(self, request: EncodeRequest) -> list[ShippedPart]:
        """Send ``request`` and read its answer; any failure ends the child (a pipe left
        mid-message cannot be trusted), so a new one takes the next batch."""
        child = self._started()
        try:
            assert child.stdin is not None and child.stdout is not None
            write_message(child.stdin, request)
            answer = read_message(child.stdout)
        except BaseException as error:  # cleanup, then re-raised
            code = self._stop_child()
            if isinstance(error, _CHILD_ERRORS):
                raise EncoderUnavailable(f"the encoder process ended ({code}): {error}") from error
            raise
        if not isinstance(answer, EncodeAnswer) or answer.serial != request.serial:
            self._stop_child()
            raise EncoderUnavailable("the encoder process answered out of turn")
        if answer.parts is None:
            raise EncoderUnavailable(f"the encoder process refused the batch: {answer.error}")
        return answer.parts

    def _started(self) -> subprocess.Popen[bytes]:
        """The running child, started if need be."""
        if self._child is not None and self._child.poll() is None:
            return self._child
        self._stop_child()
        try:
            self._child = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as error:
            raise EncoderUnavailable(f"the encoder process did not start: {error}") from error
        return self._child

    def _stop_child(self) -> int | None:
        """End the child; its exit status (None if there was none)."""
        child, self._child = self._child, None
        if child is None:
            return None
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
        return child.returncode


def _received(part: ShippedPart, mapped: bool) -> EncodedPart:
    """A part as the child shipped it: its rows and file mapped from shared memory, or read
    into memory from a disk (a mapping would keep the deleted file's space in use)."""
    if mapped:
        rows_file, file = pa.memory_map(part.rows_path), pa.memory_map(part.file_path)
    else:
        rows_file, file = pa.OSFile(part.rows_path), pa.OSFile(part.file_path)
    table = pa.ipc.open_stream(rows_file).read_all()
    data = file.read_buffer()
    last = table.num_columns - 1
    times = table.column(last)
    nanoseconds = times.chunk(0) if times.num_chunks == 1 else times.combine_chunks()
    rows = table.remove_column(last)
    return EncodedPart(part.key, part.folder, rows, nanoseconds, part.series, data)


def _scratch_base(needed: int, disk: Path) -> tuple[Path, bool]:
    """``/dev/shm`` when it and the memory have room for ``needed`` bytes, else ``disk``
    (created); and whether that is memory, whose files are mapped rather than read."""
    shared = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
    if shared and min(_room(SHARED_MEMORY), _available_memory()) >= needed:
        return SHARED_MEMORY, True
    disk.mkdir(parents=True, exist_ok=True)
    return disk, False


def _room(folder: Path) -> int:
    """Bytes free for us in ``folder``'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def _available_memory() -> int:
    """The system's available memory in bytes (``MemAvailable``; no limit if unknown)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 1 << 62


def remove_stale_scratch(disk: Path) -> None:
    """Remove scratch folders whose server is gone (a ``kill -9`` leaves them)."""
    for base in (SHARED_MEMORY, disk):
        with contextlib.suppress(OSError):
            for folder in base.glob(f"{SCRATCH_PREFIX}*"):
                pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
