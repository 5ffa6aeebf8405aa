"""The engine as its transports see it: ``QueryBackend``, ``UpdateBackend``, ``WriteBackend``.

The one module of these Protocols: Flight SQL, InfluxQL and HTTP know nothing of
storage and call them. The SQL service (``query.scoped.SqlService``) is a
``ScopingBackend``: every call gets
``backend.scoped(principal)``, a ``QueryBackend`` that sees only the databases
the caller may read. Each database is a catalog of its SQL context, its tables
are in schema ``iox``, and DataFusion's ``information_schema`` sits beside
them. ``WriteBackend`` is the write path (``engine.arrow_writer.EngineWriter`` over
``Engine.write_batches``); it takes the principal and checks ``write``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from flight_iox.auth.policy import Principal


class QueryBackend(Protocol):
    """What Flight SQL and InfluxQL need from the query engine (``SqlService.scoped``)."""

    def database_names(self) -> list[str]:
        """Every database, sorted."""
        ...

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        """The user tables of ``database`` (schema ``iox``) and their Arrow schemas.

        Tag columns are dictionary-typed. Raises ``DatabaseNotFoundError`` when
        the database does not exist.
        """
        ...

    def query_schema(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> pa.Schema:
        """The result schema of ``sql``, planned but not executed.

        ``database`` None means no default database: only fully qualified
        ``db.iox.table`` names resolve. ``params`` are bound as in ``execute``
        (nullability and types may depend on them); with none, placeholders stay
        unbound. Raises ``QueryError`` on bad SQL.
        """
        ...

    def parameter_count(self, sql: str) -> int:
        """How many ``?`` / ``$n`` placeholders ``sql`` has."""
        ...

    def reads_no_data(self, sql: str) -> bool:
        """Whether ``sql`` was planned before and reads no table (``SELECT 1``).

        A hint of where to run it (the calling thread: it computes in one step), never
        of who may: False when unknown.
        """
        ...

    def execute(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
    ) -> pa.RecordBatchReader:
        """Run ``sql`` and stream its result.

        ``params`` are positional, for ``?`` or ``$1..$n``, or by name for ``$name``: Python
        values or ``pa.Scalar``. Raises ``QueryError`` or ``DatabaseNotFoundError``.
        """
        ...


class ScopingBackend(Protocol):
    """The query engine before a caller is known."""

    def scoped(self, principal: Principal) -> QueryBackend:
        """The engine as ``principal`` sees it: only the databases it may read."""
        ...


class UpdateBackend(Protocol):
    """Optional part of the (scoped) query engine: statements that change data or schema.

    ``DELETE``, ``CREATE``/``DROP TABLE`` and the like go here (``INSERT`` is
    served by the Flight SQL layer through ``WriteBackend``). The engine checks
    the scoped principal on the target it resolves. The service looks the
    method up at run time; without it, or when it raises ``NotSupportedError``,
    the client gets UNIMPLEMENTED with a message.
    """

    def execute_update(self, database: str | None, sql: str, params: Sequence[object] = ()) -> int:
        """Run a data- or schema-changing statement; how many rows it changed (or 0)."""
        ...


# What runs DELETE, DROP TABLE and CREATE TABLE for ``UpdateBackend``: database, SQL,
# positional parameters, the caller; rows changed. The persistence layer's ``Deleter``.
UpdateHandler = Callable[[str | None, str, Sequence[object], Principal], int]


class DatabaseAdmin(Protocol):
    """Databases administered by statements (InfluxQL's CREATE/DROP DATABASE, retention
    policies, continuous queries)."""

    def database_names(self) -> list[str]:
        """Every database, sorted."""
        ...

    def retention_ns(self, name: str) -> int | None:
        """How long a database keeps rows, in nanoseconds (None: forever)."""
        ...

    def set_retention(self, name: str, retention_ns: int | None) -> None:
        """Change how long a database keeps rows (None: forever)."""
        ...

    def settings(self, database: str, kind: str) -> dict[str, dict[str, object]]:
        """A database's named settings of one kind (``DatabaseNotFoundError``)."""
        ...

    def put_setting(
        self, database: str, kind: str, name: str, value: dict[str, object] | None
    ) -> None:
        """Keep (None: forget) a named setting durably."""
        ...

    def create_database(
        self,
        name: str,
        retention_ns: int | None = None,
        partition_by: Sequence[str] | None = None,
    ) -> None:
        """Create an empty database, optionally with a retention period and a default
        partition spec for its new tables."""
        ...

    def delete_database(self, name: str) -> None:
        """Delete a database, everything buffered for it and its files."""
        ...


class WriteBackend(Protocol):
    """The validated, WAL-durable write path, fed with Arrow."""

    def write_arrow(
        self,
        database: str,
        table: str,
        data: pa.Table,
        tag_columns: list[str] | None,
        *,
        principal: Principal,
    ) -> int:
        """Write ``data`` into ``table`` (created when missing); rows written.

        ``tag_columns`` None: every dictionary or string column is a tag. The
        whole table is written or nothing is (a bad row rejects the write).
        ``principal`` needs ``write`` on ``database``.
        """
        ...

    def table_schema(self, database: str, table: str, *, principal: Principal) -> pa.Schema | None:
        """The schema of a table about to be written (None: it does not exist yet).

        A writer needs it (its tags) without being allowed to read the database:
        ``principal`` needs ``write`` on ``database``.
        """
        ...


class SubscriptionAdmin(Protocol):
    """InfluxQL's CREATE/DROP/SHOW SUBSCRIPTION (``subscriptions.service.SubscriptionService``).

    Each call checks the principal itself (admin only), besides the statement's check.
    """

    def create(
        self,
        principal: Principal,
        database: str,
        retention_policy: str | None,
        name: str,
        mode: str,
        destinations: list[str],
    ) -> None:
        """Define a subscription; its deliveries start with the next acknowledged write."""
        ...

    def drop(
        self, principal: Principal, database: str, retention_policy: str | None, name: str
    ) -> None:
        """Remove a subscription (``NotFoundError`` when there is none of that name)."""
        ...

    def definitions(self, principal: Principal) -> Sequence[SubscriptionInfo]:
        """Every subscription, by database and name."""
        ...


class SubscriptionInfo(Protocol):
    """What SHOW SUBSCRIPTIONS prints of one subscription."""

    @property
    def database(self) -> str: ...
    @property
    def retention_policy(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def destinations(self) -> tuple[str, ...]: ...


class StreamBackend(Protocol):
    """Streaming subscriptions: a DoGet that follows a table's new rows
    (``subscriptions.stream.RowStreams``)."""

    def open(
        self,
        principal: Principal,
        ticket: dict[str, Any],
        header_database: str | None,
        cancelled: Callable[[], bool],
    ) -> tuple[pa.Schema, Iterator[tuple[pa.RecordBatch, bytes]]]:
        """Check ``principal`` may read the ticket's database; the schema and the messages
        (each batch with its ``app_metadata``), until ``cancelled``."""
        ...
