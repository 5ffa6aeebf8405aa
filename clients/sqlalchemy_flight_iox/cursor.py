"""A DB-API cursor for DDL, which says that the statement returned no rows.

Over Flight SQL, ``CREATE TABLE`` and ``DROP TABLE`` come back with a result, one row
with a ``count`` column, so the ADBC cursor's ``description`` is not ``None``. PEP 249
says ``description`` is ``None`` for an operation that returns no rows, and SQLAlchemy
relies on it: otherwise it takes the DDL for a query, keeps the cursor open for rows
nobody reads (``create_all`` and pandas' ``to_sql`` never fetch them), and the cursor is
only freed by the garbage collector, with ADBC's warning that it was not closed.
Reporting ``None`` lets SQLAlchemy close the cursor as soon as the statement has run, as
it does for every other driver.
"""

from __future__ import annotations

from typing import Any


class DdlCursor:
    """Wraps an ADBC DB-API cursor; everything but ``description`` passes through."""

    def __init__(self, cursor: Any) -> None:
        object.__setattr__(self, "_cursor", cursor)

    @property
    def description(self) -> None:
        """``None``: DDL returns no rows (PEP 249), whatever Flight SQL sends back."""
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._cursor, name, value)  # arraysize and the like belong to the driver
