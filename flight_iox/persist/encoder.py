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
Arrow IPC stream in a scratch file (``/dev/shm`` when it has room, else the data folder's
``tmp``), and come back the same way, mapped: the new files' rows the Parquet cache takes
are not copied. The server stores and commits the files as before.

Failure model: the child is a cache of CPU, never a place data lives. Its rows are in the
buffer and the WAL until the commit, which the server makes. If the child cannot start,
dies (a ``kill -9``, the OOM killer), or answers with an error, the batch is encoded in the
server's own thread instead, with a warning, and a new child is started for the next one.
Smaller batches (a test's, a light load's) are encoded in the thread: starting the child
costs about a second of CPU once, a request a few milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pyarrow as pa

from flight_iox.persist.encoder_child import (
    EncodeRequest,
    ShippedPart,
    read_message,
    read_stream,
    write_message,
    write_stream,
)
from flight_iox.persist.parquet_files import EncodedPart, encode_parts
from iox_catalog.partitioning import Partitioning
from iox_catalog.schema import ColumnKinds

log = logging.getLogger(__name__)
SHARED_MEMORY = Path("/dev/shm")
# Scratch room wanted per byte of rows: the rows going in, and the sorted rows coming back.
SCRATCH_FACTOR = 3


class EncoderUnavailable(Exception):
    """The child could not encode a batch (it is encoded in the server's thread instead)."""


class PartEncoder:
    """``encode_parts`` for the server: big batches in the child, small ones in place."""

    def __init__(self, min_rows: int, nice: int, data_dir: Path) -> None:
        self.min_rows = min_rows  # 0: every batch in place
        self.nice = nice
        self._fallback_scratch = data_dir / "tmp" / "encode"
        self._lock = threading.Lock()  # one request at a time on the one pipe
        self._child: subprocess.Popen[bytes] | None = None
        self.command = [sys.executable, "-m", "flight_iox.persist.encoder_child", str(nice)]
        self.in_child = 0  # batches the child encoded (for tests and metrics)

    def encode(
        self, data: pa.Table, kinds: ColumnKinds, partitioning: Partitioning
    ) -> list[EncodedPart]:
        """``data`` encoded by partition, in the child when it is big enough and works."""
        if self.min_rows <= 0 or data.num_rows < self.min_rows:
            return encode_parts(data, kinds, partitioning)
        try:
            with self._lock:
                parts = self._in_child(data, kinds, partitioning)
            self.in_child += 1
            return parts
        except EncoderUnavailable as error:
            log.warning("encoding %d rows in the server's thread: %s", data.num_rows, error)
            return encode_parts(data, kinds, partitioning)

    def close(self) -> None:
        """Stop the child (it ends when its stdin does)."""
        with self._lock:
            self._stop_child()

    def _in_child(
        self, data: pa.Table, kinds: ColumnKinds, partitioning: Partitioning
    ) -> list[EncodedPart]:
        child = self._started()
        base = _scratch_base(SCRATCH_FACTOR * data.nbytes, self._fallback_scratch)
        scratch = tempfile.mkdtemp(prefix="flight-iox-encode-", dir=base)
        try:
            rows_path = os.path.join(scratch, "rows.arrows")
            try:
                write_stream(rows_path, data)
                assert child.stdin is not None and child.stdout is not None
                write_message(child.stdin, EncodeRequest(rows_path, kinds, partitioning, scratch))
                status, answer = read_message(child.stdout)
            except (OSError, EOFError, pa.ArrowException) as error:
                self._stop_child()  # a half-read pipe cannot be trusted: a new child next time
                raise EncoderUnavailable(f"the encoder process failed: {error}") from error
            if status != "ok":
                raise EncoderUnavailable(f"the encoder process refused the batch: {answer}")
            return [_received(part) for part in answer]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)  # mapped rows outlive their files

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

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
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


def _received(part: ShippedPart) -> EncodedPart:
    """A part as the child shipped it, its rows mapped from scratch (and the file gone)."""
    try:
        table = read_stream(part.rows_path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part.rows_path)
    last = table.num_columns - 1
    rows = table.remove_column(last)
    nanoseconds = table.column(last)
    times = nanoseconds.chunk(0) if nanoseconds.num_chunks == 1 else nanoseconds.combine_chunks()
    return EncodedPart(part.key, part.folder, rows, times, part.series, part.data)


def _scratch_base(needed: int, fallback: Path) -> Path:
    """``/dev/shm`` when it has room for ``needed`` bytes, else ``fallback`` (created)."""
    shared = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
    if shared and _room(SHARED_MEMORY) >= needed:
        return SHARED_MEMORY
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _room(folder: Path) -> int:
    """Bytes free for us in ``folder``'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
