"""The server's side of a plugin call: its queries, writes and cache, with its principal.

Every request a worker makes is answered here with the trigger's principal, through
the same services a client's request uses: SQL through ``SqlService.scoped`` (reads
only what the principal may read), writes through the engine's line-protocol write
path (WAL-acknowledged, ``write`` permission checked on the target database).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import FlightIoxError, query_error
from flight_iox.processing.process import RequestRefused
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.scoped import SqlService

log = logging.getLogger(__name__)

LogSink = Callable[[str, str], None]  # (level, text)


class PluginWriter(Protocol):
    """The write path as plugins use it (``Engine`` implements it)."""

    def write_line_protocol(
        self,
        database: str,
        body: bytes,
        *,
        principal: Principal,
        accept_partial: bool = True,
        no_sync: bool = False,
    ) -> Any:
        """Parse, validate and durably store ``body``; returns the outcome (``errors``)."""
        ...


def python_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, as InfluxDB 3 gives plugins.

    Timestamps become integer nanoseconds and dictionary (tag) columns their strings.
    """
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("ns")).cast(pa.int64())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names).to_pylist()


class PluginCache:
    """``influxdb3_local.cache``: values per trigger (``scope``) or global (scope ``""``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: dict[str, dict[str, tuple[Any, float]]] = {}

    def put(self, scope: str, key: str, value: Any, ttl: float | None) -> None:
        """Keep ``value`` (for ``ttl`` seconds; None: until restart)."""
        expires = math.inf if ttl is None else time.monotonic() + ttl
        with self._lock:
            self._scopes.setdefault(scope, {})[key] = (value, expires)

    def get(self, scope: str, key: str) -> tuple[bool, Any]:
        """(found, value); an expired entry is dropped."""
        with self._lock:
            held = self._scopes.get(scope, {})
            entry = held.get(key)
            if entry is None:
                return False, None
            if entry[1] <= time.monotonic():
                del held[key]
                return False, None
            return True, entry[0]

    def delete(self, scope: str, key: str) -> bool:
        """Remove ``key``; whether it was there (and alive)."""
        with self._lock:
            entry = self._scopes.get(scope, {}).pop(key, None)
        return entry is not None and entry[1] > time.monotonic()

    def drop(self, scope: str) -> None:
        """Forget a trigger's cache (it was deleted)."""
        with self._lock:
            self._scopes.pop(scope, None)


@dataclass(frozen=True)
class PluginHost:
    """Answers one trigger's worker requests (``PluginProcess.call``'s ``on_request``)."""

    database: str
    principal: Principal
    sql: SqlService
    writer: PluginWriter
    cache: PluginCache
    cache_scope: str
    on_log: LogSink

    def __call__(self, op: str, payload: tuple[Any, ...]) -> Any:
        """One request: ``query``, ``write``, ``cache_put``, ``cache_get``, ``cache_delete``."""
        if op == "query":
            return self.query(*payload)
        if op == "write":
            database, line, no_sync = payload
            return self.write_lines(database, [line], no_sync=no_sync, sync_call=True)
        if op == "cache_put":
            key, value, ttl, use_global = payload
            return self.cache.put("" if use_global else self.cache_scope, key, value, ttl)
        if op == "cache_get":
            key, use_global = payload
            return self.cache.get("" if use_global else self.cache_scope, key)
        if op == "cache_delete":
            key, use_global = payload
            return self.cache.delete("" if use_global else self.cache_scope, key)
        raise RequestRefused("protocol", f"unknown request {op!r}")

    def query(
        self, sql: str, args: dict[str, str] | None, database: str | None
    ) -> list[dict[str, Any]]:
        """Run ``sql`` as the trigger's principal (``QueryError`` in the plugin on failure)."""
        try:
            reader = self.sql.scoped(self.principal).execute(
                database or self.database, sql, args or ()
            )
            return python_rows(reader.read_all())
        except FlightIoxError as error:
            raise RequestRefused("query", error.message) from None
        except Exception as error:
            if not is_engine_error(error):
                raise  # a bug of ours: the call fails and the server logs it
            raise RequestRefused("query", query_error(str(error)).message) from None

    def write_lines(
        self,
        database: str | None,
        lines: list[str],
        *,
        no_sync: bool = False,
        sync_call: bool = False,
    ) -> None:
        """Write line protocol as the trigger's principal.

        A synchronous write (``write_sync``) is all or nothing and its refusal raises in
        the plugin; queued writes (after the call) keep their good lines and log the bad.
        """
        target = database or self.database
        body = "\n".join(lines).encode()
        try:
            outcome = self.writer.write_line_protocol(
                target,
                body,
                principal=self.principal,
                accept_partial=not sync_call,
                no_sync=no_sync,
            )
        except FlightIoxError as error:
            if sync_call:
                raise RequestRefused("write", error.message) from None
            self.on_log("ERROR", f"error writing back lines to {target}: {error.message}")
            return
        for line_error in outcome.errors[:10]:
            self.on_log(
                "ERROR", f"write to {target}: line {line_error.line_number}: {line_error.message}"
            )
