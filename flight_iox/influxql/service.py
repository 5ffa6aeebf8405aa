"""The entry points the transports call: the caller and InfluxQL text in, statement results out.

Each takes the caller's ``Principal``; the statements check it on every database
they resolve (see ``context.Context``).
"""

from __future__ import annotations

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import NotSupportedError
from flight_iox.influxql.context import Context
from flight_iox.influxql.executor import execute, now_nanos
from flight_iox.influxql.formats import arrow_table
from flight_iox.influxql.result import StatementResult, first_failure
from flight_iox.query.backend import (
    DatabaseAdmin,
    QueryBackend,
    ScopingBackend,
    SubscriptionAdmin,
    WriteBackend,
)


class InfluxQL:
    """InfluxQL over the SQL service, the Arrow write path and database administration.

    The composition root builds it; the HTTP routes call ``run``. Every part acts as
    the caller's principal (defense in depth: the statements check it where they
    resolve names, and the scoped backend, the write path and the update path check
    it again): reads see only the databases it may read.
    """

    def __init__(
        self,
        sql: ScopingBackend,
        writer: WriteBackend,
        databases: DatabaseAdmin,
        subscriptions: SubscriptionAdmin | None = None,
    ) -> None:
        self._sql = sql
        self._writer = writer
        self._databases = databases
        self._subscriptions = subscriptions

    def context(
        self,
        principal: Principal,
        database: str | None,
        now: int | None = None,
        read_only: bool = False,
    ) -> Context:
        """A context whose reads go to the query engine and whose writes take the write path."""
        backend = self._sql.scoped(principal)
        writer = self._writer

        def write(db: str, table: str, data: pa.Table, tags: list[str]) -> int:
            return writer.write_arrow(db, table, data, tags, principal=principal)

        def update(db: str, sql: str) -> int:
            execute_update = getattr(backend, "execute_update", None)  # UpdateBackend is optional
            if execute_update is None:
                raise NotSupportedError("this server does not change data through SQL")
            return int(execute_update(db, sql))

        return Context(
            backend=backend,
            database=database or None,
            now=now_nanos() if now is None else now,
            principal=principal,
            read_only=read_only,
            write=write,
            create_database=self._databases.create_database,
            drop_database=self._databases.delete_database,
            update=update,
            admin=self._databases,
            subscriptions=self._subscriptions,
        )

    def run(
        self,
        principal: Principal,
        database: str | None,
        text: str,
        now: int | None = None,
        read_only: bool = False,
    ) -> list[StatementResult]:
        """Run an InfluxQL text as ``principal`` (``read_only``: GET)."""
        return execute(text, self.context(principal, database, now, read_only))


def influxql_reader(
    backend: QueryBackend, principal: Principal, database: str | None, text: str
) -> pa.RecordBatchReader:
    """InfluxQL for Flight: the last statement's series as one flat Arrow stream (read-only).

    The first failed statement's error is raised as it is (a permission error stays one).
    """
    ctx = Context(
        backend=backend,
        database=database or None,
        now=now_nanos(),
        principal=principal,
        read_only=True,
    )
    results = execute(text, ctx)
    failure = first_failure(results)
    if failure is not None:
        raise failure
    table = arrow_table(results[-1])
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
