"""``influxdb3_local`` as a plugin sees it, inside the worker process.

Logging and queued writes stay in the worker until the call returns (logs are also
sent as they happen, so a plugin that hangs after logging still shows its logs);
queries, synchronous writes and the cache are requests to the server over the
worker's pipe (``Channel``), answered with the trigger's principal. Standard library
only: this module is imported by the worker, never by the server.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any


class QueryError(Exception):
    """A plugin query failed (InfluxDB 3 raises its own ``QueryError`` by this name)."""


class WriteError(Exception):
    """A synchronous plugin write was rejected."""


_FAILURES: dict[str, type[Exception]] = {"query": QueryError, "write": WriteError}


class Channel:
    """The worker's end of the pipe: one request at a time, answered in order."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def notify(self, *message: object) -> None:
        """Send without waiting for an answer (logs)."""
        self._conn.send(message)

    def request(self, op: str, *payload: object) -> Any:
        """Ask the server and wait for its answer; its refusals raise here."""
        self._conn.send(("request", op, *payload))
        answer = self._conn.recv()
        if answer[0] == "reply":
            return answer[1]
        kind, text = answer[1], answer[2]
        raise _FAILURES.get(kind, RuntimeError)(text)


def _text(args: tuple[object, ...]) -> str:
    return " ".join(str(a) for a in args)


class Cache:
    """``influxdb3_local.cache``: kept by the server, per trigger or global."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def put(
        self, key: str, value: Any, ttl: float | None = None, use_global: bool | None = None
    ) -> None:
        """Store ``value`` under ``key`` (for ``ttl`` seconds; None: until restart)."""
        if ttl is not None and (ttl != ttl or ttl < 0):
            raise ValueError(f"ttl must be a non-negative number of seconds, got {ttl!r}")
        self._channel.request("cache_put", str(key), value, ttl, bool(use_global))

    def get(self, key: str, default: Any = None, use_global: bool | None = None) -> Any:
        """The value under ``key``, or ``default`` when absent or expired."""
        found, value = self._channel.request("cache_get", str(key), bool(use_global))
        return value if found else default

    def delete(self, key: str, use_global: bool | None = None) -> bool:
        """Remove ``key``; whether it was there."""
        return bool(self._channel.request("cache_delete", str(key), bool(use_global)))


class InfluxDB3Local:
    """The API object passed as the first argument of every plugin entry point."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._queued: list[tuple[str | None, str]] = []
        self._cache = Cache(channel)

    @property
    def cache(self) -> Cache:
        """The in-memory cache shared between calls of this trigger (or all, ``use_global``)."""
        return self._cache

    def info(self, *args: object) -> None:
        """Log at INFO into ``system.processing_engine_logs``."""
        self._channel.notify("log", "INFO", _text(args))

    def warn(self, *args: object) -> None:
        """Log at WARN into ``system.processing_engine_logs``."""
        self._channel.notify("log", "WARN", _text(args))

    def error(self, *args: object) -> None:
        """Log at ERROR into ``system.processing_engine_logs``."""
        self._channel.notify("log", "ERROR", _text(args))

    def write(self, line: Any) -> None:
        """Queue a line for the trigger's database; written after the call returns."""
        self._queued.append((None, line.build()))

    def write_to_db(self, db_name: str, line: Any) -> None:
        """Queue a line for ``db_name``; written after the call returns."""
        self._queued.append((str(db_name), line.build()))

    def write_sync(self, line: Any, no_sync: bool = False) -> None:
        """Write a line to the trigger's database now (acknowledged when this returns)."""
        self._channel.request("write", None, line.build(), bool(no_sync))

    def write_sync_to_db(self, db_name: str, line: Any, no_sync: bool = False) -> None:
        """Write a line to ``db_name`` now."""
        self._channel.request("write", str(db_name), line.build(), bool(no_sync))

    def query(
        self, query: str, args: dict[str, str] | None = None, database: str | None = None
    ) -> list[dict[str, Any]]:
        """Run SQL (``$name`` parameters from ``args``) and return the rows as dicts."""
        if args is not None:
            for name, value in args.items():
                if not isinstance(value, str):
                    raise TypeError(f"query parameter {name!r} must be a string")
        rows: list[dict[str, Any]] = self._channel.request("query", query, args, database)
        return rows

    def queued_writes(self) -> list[tuple[str | None, str]]:
        """The lines ``write`` and ``write_to_db`` queued, in order (taken once)."""
        queued, self._queued = self._queued, []
        return queued
