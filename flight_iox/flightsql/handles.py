"""Statement handles: everything needed to run a statement, inside the handle.

Flight SQL handles and tickets are opaque bytes to the client. flight-iox
keeps no server-side state for statements, so a handle carries the database,
the SQL and the bound parameters, and any node can serve it. The encoding is
JSON (UTF-8) with the parameters as a one-row Arrow IPC stream in base64,
which keeps every Arrow type exact::

    {"v": 1, "database": "mydb" | null, "sql": "...", "params": "<base64 IPC>" | null}

A ticket's handle also carries the result schema GetFlightInfo announced
(``"schema": "<base64 IPC schema>"``), so DoGet streams exactly that schema.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa

from flight_iox.client_json import loads_object
from flight_iox.errors import BadRequestError

_VERSION = 1
# A plain-ADBC query decodes its handle four times (GetFlightInfo, DoGet, the query log,
# ClosePreparedStatement) and a dashboard repeats it: decoding is pure, so small handles
# are decoded once (bounded: at most this many of at most this size are kept).
DECODED_HANDLES = 256
CACHED_HANDLE_BYTES = 16 * 1024
# Statements whose encoded answers ``PerSchema`` keeps, oldest dropped first.
KEPT_STATEMENTS = 256

T = TypeVar("T")


@dataclass(frozen=True)
class StatementHandle:
    """A statement to run: its default database, its SQL, and bound parameters."""

    database: str | None
    sql: str
    params: pa.RecordBatch | None = None
    schema: pa.Schema | None = None

    def param_values(self) -> list[pa.Scalar]:
        """The bound parameters in order, as Arrow scalars (empty when none)."""
        if self.params is None:
            return []
        return [column[0] for column in self.params.columns]

    def encode(self) -> bytes:
        """The handle as bytes."""
        params = None
        if self.params is not None:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, self.params.schema) as writer:
                writer.write_batch(self.params)
            params = base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")
        body = {"v": _VERSION, "database": self.database, "sql": self.sql, "params": params}
        if self.schema is not None:
            body["schema"] = base64.b64encode(self.schema.serialize().to_pybytes()).decode("ascii")
        return json.dumps(body, separators=(",", ":")).encode()

    def with_schema(self, schema: pa.Schema) -> StatementHandle:
        """This handle, carrying the result schema announced for it."""
        return StatementHandle(self.database, self.sql, self.params, schema)

    @classmethod
    def decode(cls, data: bytes) -> StatementHandle:
        """Read a handle made by ``encode``; anything else is a bad request."""
        if len(data) <= CACHED_HANDLE_BYTES:
            return _decode_cached(bytes(data))
        return _decode(data)


@functools.lru_cache(maxsize=DECODED_HANDLES)
def _decode_cached(data: bytes) -> StatementHandle:
    return _decode(data)  # an invalid handle raises, and errors are not cached


def _decode(data: bytes) -> StatementHandle:
    """Parse a handle (``StatementHandle.decode``); anything else is a bad request."""
    try:
        body = loads_object(data, "statement handle")
        if body.get("v") != _VERSION:
            raise ValueError(f"unknown handle version {body.get('v')!r}")
        database, sql = body.get("database"), body["sql"]
        if not isinstance(sql, str) or not isinstance(database, str | None):
            raise ValueError("'sql' must be a string and 'database' a string or null")
        params = None
        if body.get("params"):
            raw = base64.b64decode(body["params"], validate=True)
            params = pa.ipc.open_stream(raw).read_next_batch()
        schema = None
        if body.get("schema"):
            raw = base64.b64decode(body["schema"], validate=True)
            schema = pa.ipc.read_schema(pa.py_buffer(raw))
        return StatementHandle(database, sql, params, schema)
    except StopIteration:  # a parameter stream with a schema and no batch
        raise BadRequestError("invalid statement handle: no parameter batch") from None
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
        raise BadRequestError(f"invalid statement handle: {error}") from None
    except (pa.ArrowException, OSError) as error:  # pyarrow reports bad IPC as OSError too
        raise BadRequestError(f"invalid parameters in statement handle: {error}") from None


def first_row(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The first row of a parameter batch (queries bind one row; see docs/flight-sql.md)."""
    if batch.num_rows == 0:
        raise BadRequestError("parameter batch has no rows")
    return batch.slice(0, 1)


class PerSchema(Generic[T]):
    """Answers made from a statement (database, SQL) and its result schema, kept while the
    engine's schema cache hands out that very schema object (a table change plans a new one,
    and a kept answer is then made again): encoding a handle, its schema and its protobuf
    again for every repeat of a dashboard's query cost a cold RPC tens of microseconds.

    ``schema`` None (a statement that changes data) keeps the answer per statement. SQL over
    ``CACHED_HANDLE_BYTES`` is not kept (an entry holds it three times). Tokens of other
    scopes plan other schema objects, so they take turns in one entry: always right, kept
    only for the last.
    """

    def __init__(self, capacity: int = KEPT_STATEMENTS) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._kept: dict[tuple[str | None, str], tuple[pa.Schema | None, T]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: tuple[str | None, str], schema: pa.Schema | None) -> T | None:
        """The answer kept for ``key`` with exactly ``schema``, else None."""
        kept = self._kept.get(key)
        return kept[1] if kept is not None and kept[0] is schema else None

    def put(self, key: tuple[str | None, str], schema: pa.Schema | None, answer: T) -> None:
        """Keep ``answer`` for ``key`` and ``schema`` (the oldest statement leaves when full)."""
        if len(key[1]) > CACHED_HANDLE_BYTES:
            return
        with self._lock:
            self._kept[key] = (schema, answer)
            while len(self._kept) > self._capacity:
                del self._kept[next(iter(self._kept))]
