"""The seams between the services that share the engine's state, as Protocols.

The write path (``engine``) and persistence (``persist``) change tables; the query
engine (``query``) keeps caches over them (registered tables, plans, the last-value
cache, files it checked). The services do not import each other for that: each takes
the narrow Protocol below, and the composition root (``flight_iox/app.py``) passes the
``QueryEngine``. Readers of the write stream (subscriptions, processing-engine triggers)
take ``WalFeed``, which the engine implements. This module imports nothing of
``flight_iox``, so every package may depend on it and the package graph stays acyclic
(``tests/test_architecture.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:
    from iox_catalog.files import DataFile


class QueryCaches(Protocol):
    """What a change to tables must tell the query side (``QueryEngine`` implements it)."""

    def forget_database(self, database: str) -> None:
        """A database was deleted: drop its tables from every context."""
        ...

    def forget_table(self, database: str, table: str) -> None:
        """A table was dropped: drop it from every context and cache."""
        ...

    def forget_caches(self, database: str, table: str) -> None:
        """A table's cache configuration changed: drop the rows held for its caches."""
        ...

    def recheck_files(self, database: str, table: str, paths: set[str]) -> None:
        """These files of the table were found lost: check them again before the next read."""
        ...

    def load_files(
        self,
        files: Sequence[DataFile],
        schema: pa.Schema,
        table: tuple[str, str] | None = None,
        rows: Mapping[str, Callable[[pa.Schema], pa.Table]] | None = None,
    ) -> None:
        """Files about to join ``table`` (database, name): put them in the Parquet cache now,
        if they fit (``rows``: loads of some by path that decode nothing: the writer's rows),
        and aggregate them for the statements repeated over the table."""
        ...

    def cached_files(self, files: Sequence[DataFile]) -> dict[str, pa.Table]:
        """Those of ``files`` the Parquet cache holds decoded, by path (none are loaded)."""
        ...


@dataclass(frozen=True)
class AcknowledgedWrite:
    """One acknowledged WAL entry: its sequence, database and one Arrow batch per table.

    The batches' fields carry their column roles in metadata (``iox::column_type``), as
    the WAL stores them; a batch holds only the columns its write gave.
    """

    sequence: int
    database: str
    tables: tuple[tuple[str, pa.RecordBatch], ...]


@dataclass(frozen=True)
class FeedRead:
    """What one ``WalFeed.read`` returned.

    Every sequence in ``(after, through]`` is either in ``entries`` (those of the
    database asked for) or was of another database, or is counted in ``missing``: the
    entries deleted from the WAL (persisted and truncated) before the reader got to them.
    """

    entries: tuple[AcknowledgedWrite, ...]
    through: int
    missing: int = 0


class WalFeed(Protocol):
    """Acknowledged writes in WAL-sequence order, for readers that follow the log.

    Subscriptions and processing-engine triggers read it: they keep the sequence they
    have handled through, ``read`` from it (recent entries come from memory, older ones
    from the WAL segments, so a restart resumes where the reader was), and ``wait`` for
    more. ``hold`` keeps the WAL from deleting entries a reader still needs, up to a
    bound in bytes (``--wal-hold-max-bytes``); past it the oldest are deleted anyway
    and the reader sees them as ``missing``. The engine implements it
    (``engine/feed.WriteFeed``); the composition root passes it to the readers.
    """

    @property
    def acknowledged(self) -> int:
        """Every write up to this sequence is acknowledged and readable."""
        ...

    def wait(self, after: int, timeout: float, stopped: threading.Event | None = None) -> int:
        """Block until a write after ``after`` is acknowledged, ``timeout`` seconds pass or
        ``stopped`` is set and ``wake`` called.

        Returns ``acknowledged`` (compare it with ``after``).
        """
        ...

    def wake(self) -> None:
        """Have every ``wait`` look at its ``stopped`` now (a reader stopping: its thread need
        not wait out its timeout; the other readers go on waiting)."""
        ...

    def read(self, after: int, database: str | None = None, limit: int = 1024) -> FeedRead:
        """Up to ``limit`` acknowledged entries after ``after`` (of ``database`` only, if given)."""
        ...

    def hold(self, holder: str, after: int) -> None:
        """Keep the WAL entries after ``after`` for ``holder`` (replaces its earlier hold)."""
        ...

    def release(self, holder: str) -> None:
        """Drop ``holder``'s hold (a reader that was removed)."""
        ...
