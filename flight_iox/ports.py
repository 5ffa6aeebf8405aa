"""The seams between the services that share the engine's state, as Protocols.

The write path (``engine``) and persistence (``persist``) change tables; the query
engine (``query``) keeps caches over them (registered tables, plans, the last-value
cache, files it checked). The services do not import each other for that: each takes
the narrow Protocol below, and the composition root (``flight_iox/app.py``) passes the
``QueryEngine``. This module imports nothing of ``flight_iox``, so every package may
depend on it and the package graph stays acyclic (``tests/test_architecture.py``).
"""

from __future__ import annotations

from typing import Protocol


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
