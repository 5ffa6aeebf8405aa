"""The entry point the transports call: InfluxQL text in, statement results out."""

from __future__ import annotations

import pyarrow as pa

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.engine.arrow_rows import measurement_batch_from_arrow
from flight_iox.engine.engine import Engine
from flight_iox.errors import QueryError
from flight_iox.influxql.context import Context, QueryBackend
from flight_iox.influxql.executor import execute, now_nanos
from flight_iox.influxql.formats import arrow_table
from flight_iox.influxql.result import StatementResult


def engine_context(engine: Engine, database: str | None, now: int | None = None) -> Context:
    """A context whose reads go to the query engine and whose writes take the write path."""

    def write(db: str, table: str, data: pa.Table, tags: list[str]) -> int:
        batch = measurement_batch_from_arrow(table, data, tags)
        # Not yet the caller: InfluxQL authorization (SELECT INTO targets) is still to come.
        outcome = engine.write_batches(db, [batch], principal=ANONYMOUS, accept_partial=False)
        return outcome.rows_written

    return Context(
        backend=engine.query,
        database=database or None,
        now=now_nanos() if now is None else now,
        write=write,
        create_database=engine.create_database,
        drop_database=engine.delete_database,
    )


def run_influxql(
    engine: Engine, database: str | None, text: str, now: int | None = None
) -> list[StatementResult]:
    """Run an InfluxQL text against the engine."""
    return execute(text, engine_context(engine, database, now))


def influxql_reader(backend: QueryBackend, database: str | None, text: str) -> pa.RecordBatchReader:
    """InfluxQL for Flight: the last statement's series as one flat Arrow stream (read-only)."""
    results = execute(text, Context(backend=backend, database=database or None, now=now_nanos()))
    failed = [r.error for r in results if r.error is not None]
    if failed:
        raise QueryError(failed[0])
    table = arrow_table(results[-1])
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
