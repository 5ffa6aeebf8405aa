"""The query engine as the Flight SQL service sees it.

The service knows nothing of storage: it calls this Protocol, which the engine
(``flight_iox.query``) implements. Each database is a catalog of the engine's
SQL context, its tables are in schema ``iox``, and DataFusion's
``information_schema`` sits beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa


class QueryBackend(Protocol):
    """What the Flight SQL service needs from the query engine."""

    def database_names(self) -> list[str]:
        """Every database, sorted."""
        ...

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        """The user tables of ``database`` (schema ``iox``) and their Arrow schemas.

        Raises ``DatabaseNotFoundError`` when the database does not exist.
        """
        ...

    def query_schema(self, database: str | None, sql: str) -> pa.Schema:
        """The result schema of ``sql``, planned but not executed.

        ``database`` None means no default database: only fully qualified
        ``db.iox.table`` names resolve. Raises ``QueryError`` on bad SQL.
        """
        ...

    def parameter_count(self, sql: str) -> int:
        """How many ``?`` / ``$n`` placeholders ``sql`` has."""
        ...

    def execute(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> pa.RecordBatchReader:
        """Run ``sql`` and stream its result.

        ``params`` are positional, for ``?`` or ``$1..$n``: Python values or
        ``pa.Scalar``. Raises ``QueryError`` or ``DatabaseNotFoundError``.
        """
        ...
