"""The entry points the transports call: the caller and InfluxQL text in, statement results out.

Each takes the caller's ``Principal``; the statements check it on every database
they resolve (see ``context.Context``).
"""

from __future__ import annotations

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.engine.arrow_writer import EngineWriter
from flight_iox.engine.engine import Engine
from flight_iox.influxql.context import Context
from flight_iox.influxql.executor import execute, now_nanos
from flight_iox.influxql.formats import arrow_table
from flight_iox.influxql.result import StatementResult, first_failure
from flight_iox.query.backend import QueryBackend


def engine_context(
    engine: Engine,
    principal: Principal,
    database: str | None,
    now: int | None = None,
    read_only: bool = False,
) -> Context:
    """A context whose reads go to the query engine and whose writes take the write path.

    Every part acts as ``principal`` (defense in depth: the statements check it where they
    resolve names, and the scoped backend, the write path and the update path check it
    again): reads see only the databases it may read.
    """
    backend = engine.query.scoped(principal)
    writer = EngineWriter(engine)

    def write(db: str, table: str, data: pa.Table, tags: list[str]) -> int:
        return writer.write_arrow(db, table, data, tags, principal=principal)

    return Context(
        backend=backend,
        database=database or None,
        now=now_nanos() if now is None else now,
        principal=principal,
        read_only=read_only,
        write=write,
        create_database=engine.create_database,
        drop_database=engine.delete_database,
        update=lambda db, sql: backend.execute_update(db, sql),
    )


def run_influxql(
    engine: Engine,
    principal: Principal,
    database: str | None,
    text: str,
    now: int | None = None,
    read_only: bool = False,
) -> list[StatementResult]:
    """Run an InfluxQL text against the engine as ``principal`` (``read_only``: GET)."""
    return execute(text, engine_context(engine, principal, database, now, read_only))


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
