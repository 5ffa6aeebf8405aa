"""The child side of ``persist/encoder.py``: encode persists' files, one request at a time.

The server starts it with ``command()``: a few lines of boot code lower the process's CPU
weight, ignore the signals meant for the server (it ends when its stdin does), give the
answers a descriptor of their own (fd 1 becomes stderr, so a library printing to stdout
cannot corrupt them) and take the server's ``sys.path``, all before anything is imported,
so every thread the imports start runs at that weight and the code is the server's own.
Then ``serve`` answers requests read from stdin:

- a request names a scratch file holding the rows as an Arrow IPC stream, with the column
  kinds and the partitioning (``parquet_files.encode_parts``' arguments);
- the answer gives, per partition, its key and folder, its series ranges and the names of
  two scratch files: its rows and their nanoseconds (an IPC stream), and the Parquet file.
  The server maps them, so neither the rows the Parquet cache takes nor the file's bytes
  are copied through the pipe.

Messages are pickles behind an 8-byte length: both ends are this program's own code, run by
the same user, and the pipe is private to them. Each answer repeats its request's serial.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import sys
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa

from flight_iox.engine.series_ranges import SeriesRanges
from flight_iox.persist.parquet_files import encode_parts
from iox_catalog.partitioning import Partitioning, PartitionKey
from iox_catalog.schema import ColumnKinds

_LENGTH = struct.Struct("<Q")
NANOSECONDS_COLUMN = "nanoseconds"
BOOT = """\
import json, os, signal, sys
nice = int(sys.argv[1])
if nice > 0:
    os.nice(nice)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
answers = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
sys.path[:] = json.loads(sys.argv[2])
from flight_iox.persist.encoder_child import serve
serve(sys.stdin.buffer, answers)
"""


def command(nice: int) -> list[str]:
    """How the server starts the child: this interpreter, its ``sys.path``, ``nice``."""
    return [sys.executable, "-c", BOOT, str(nice), json.dumps(sys.path)]


@dataclass(frozen=True)
class EncodeRequest:
    """What to encode: rows in ``rows_path`` (an IPC stream), answers under ``scratch``."""

    serial: int
    rows_path: str
    kinds: ColumnKinds
    partitioning: Partitioning
    scratch: str


@dataclass(frozen=True)
class ShippedPart:
    """One encoded partition as the child hands it back: ``EncodedPart`` with its rows (the
    file columns, then a column of nanoseconds) and its file in scratch files."""

    key: PartitionKey
    folder: str
    rows: int
    rows_path: str
    file_path: str
    series: SeriesRanges | None


@dataclass(frozen=True)
class EncodeAnswer:
    """The parts of request ``serial``, or why there are none."""

    serial: int
    parts: list[ShippedPart] | None
    error: str | None = None


def write_message(stream: IO[bytes], message: object) -> None:
    """``message`` pickled behind its length."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)))
    stream.write(body)
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


def encode(request: EncodeRequest) -> list[ShippedPart]:
    """One request's parts; the request's rows file is the server's to delete."""
    rows = pa.ipc.open_stream(pa.memory_map(request.rows_path)).read_all()
    shipped = []
    for index, part in enumerate(encode_parts(rows, request.kinds, request.partitioning)):
        rows_path = os.path.join(request.scratch, f"{index}.arrows")
        write_stream(rows_path, part.rows.append_column(NANOSECONDS_COLUMN, part.nanoseconds))
        file_path = os.path.join(request.scratch, f"{index}.parquet")
        with open(file_path, "wb") as out:
            out.write(part.data)
        shipped.append(
            ShippedPart(
                part.key, part.folder, part.rows.num_rows, rows_path, file_path, part.series
            )
        )
    return shipped


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until ``requests`` ends, or the server stops reading."""
    while True:
        try:
            request = read_message(requests)
        except EOFError:
            return
        try:
            answer = EncodeAnswer(request.serial, encode(request))
        except (pa.ArrowException, OSError, ValueError, TypeError) as error:
            answer = EncodeAnswer(request.serial, None, f"{type(error).__name__}: {error}")
        try:
            write_message(answers, answer)
        except OSError:  # the server is gone: nobody will read or remove the answer
            shutil.rmtree(request.scratch, ignore_errors=True)
            return
        pa.default_memory_pool().release_unused()  # idle between persists: give it back
