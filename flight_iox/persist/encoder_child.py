"""The child side of ``persist/encoder.py``: encode persists' files, one request at a time.

Started as ``python -m flight_iox.persist.encoder_child NICE`` by the server. It lowers its
own CPU weight first (the whole process, every thread it starts), then answers requests
read from stdin until stdin ends (the server closed it, or died):

- a request names a scratch file holding the rows as an Arrow IPC stream, with the column
  kinds and the partitioning (``parquet_files.encode_parts``' arguments);
- the answer gives, per partition, the file's bytes and series ranges, and the name of a
  scratch file holding its rows and their nanoseconds (an IPC stream the server maps, so
  the rows the Parquet cache takes are not copied through a pipe).

Messages are pickles behind an 8-byte length: both ends are this program's own code, run by
the same user, and the pipe is private to them.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import uuid
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa

from flight_iox.engine.series_ranges import SeriesRanges
from flight_iox.persist.parquet_files import encode_parts
from iox_catalog.partitioning import Partitioning, PartitionKey
from iox_catalog.schema import ColumnKinds

_LENGTH = struct.Struct("<Q")
NANOSECONDS_COLUMN = "nanoseconds"


@dataclass(frozen=True)
class EncodeRequest:
    """What to encode: rows in ``rows_path`` (an IPC stream), answers under ``scratch``."""

    rows_path: str
    kinds: ColumnKinds
    partitioning: Partitioning
    scratch: str


@dataclass(frozen=True)
class ShippedPart:
    """One encoded partition as the child hands it back (``EncodedPart`` less its rows,
    which are in ``rows_path``: the file columns, then a column of nanoseconds)."""

    key: PartitionKey
    folder: str
    rows_path: str
    series: SeriesRanges | None
    data: bytes


def write_message(stream: IO[bytes], message: object) -> None:
    """``message`` pickled behind its length."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other end is gone."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other end of the encoder's pipe is closed")
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the encoder's pipe closed inside a message")
    return pickle.loads(body)


def write_stream(path: str, table: pa.Table) -> None:
    """``table`` as an IPC stream file (the stream format takes dictionaries that change
    from chunk to chunk, as the buffer's do)."""
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def read_stream(path: str) -> pa.Table:
    """An IPC stream file, mapped: its buffers point into the mapping, which lives as long
    as they do (the file can be deleted at once)."""
    return pa.ipc.open_stream(pa.memory_map(path)).read_all()


def encode(request: EncodeRequest) -> list[ShippedPart]:
    """One request's answer; the request's rows file is the server's to delete."""
    rows = read_stream(request.rows_path)
    shipped = []
    for part in encode_parts(rows, request.kinds, request.partitioning):
        path = os.path.join(request.scratch, f"{uuid.uuid4().hex}.out.arrows")
        with_times = part.rows.append_column(NANOSECONDS_COLUMN, part.nanoseconds)
        write_stream(path, with_times)
        shipped.append(ShippedPart(part.key, part.folder, path, part.series, part.data))
    return shipped


def serve(nice: int, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until ``requests`` ends: ``("ok", parts)`` or ``("error", text)``."""
    if nice > 0:
        os.nice(nice)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the server's to handle
    while True:
        try:
            request = read_message(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", encode(request))
        except (pa.ArrowException, OSError, ValueError, TypeError) as error:
            answer = ("error", f"{type(error).__name__}: {error}")
        write_message(answers, answer)
        pa.default_memory_pool().release_unused()  # idle between persists: give it back


if __name__ == "__main__":  # run as a script: its classes must pickle under the module's name
    from flight_iox.persist.encoder_child import serve as serve_named

    # The answers get a descriptor of their own and fd 1 becomes stderr: a library printing
    # to stdout must not corrupt them.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve_named(int(sys.argv[1]), sys.stdin.buffer, answers)
