"""Run an InfluxQL text: parse, then each statement through its handler, errors per statement."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pyarrow as pa

from flight_iox.errors import (
    DataFileUnavailableError,
    FlightIoxError,
    NotSupportedError,
    QueryError,
)
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.into import write_into
from flight_iox.influxql.meta import SHOW_HANDLERS
from flight_iox.influxql.parser import parse
from flight_iox.influxql.result import Series, StatementResult
from flight_iox.influxql.select import run_select

log = logging.getLogger(__name__)


def _select(stmt: ast.Statement, ctx: Context) -> list[Series]:
    assert isinstance(stmt, ast.SelectStatement)
    series = run_select(stmt, ctx)
    if stmt.into is not None:
        return write_into(stmt.into, series, ctx)
    if stmt.timezone is not None:
        series = [with_zone(s, stmt.timezone) for s in series]
    return series


def with_zone(series: Series, zone: str) -> Series:
    """The series with its time column in ``zone`` (printed with that offset, as 1.x does)."""
    data = series.data
    if data.num_columns and pa.types.is_timestamp(data.schema.field(0).type):
        column = data.column(0).cast(pa.int64()).cast(pa.timestamp("ns", tz=zone))
        data = data.set_column(0, data.schema.field(0).name, column)
    return Series(series.name, series.tags, series.columns, data)


def _show(stmt: ast.Statement, ctx: Context) -> list[Series]:
    assert isinstance(stmt, ast.ShowStatement)
    return SHOW_HANDLERS[stmt.kind](stmt, ctx)


def _database(stmt: ast.Statement, ctx: Context) -> list[Series]:
    assert isinstance(stmt, ast.DatabaseStatement)
    action = ctx.create_database if stmt.action == "create" else ctx.drop_database
    if action is None:
        raise NotSupportedError(f"{stmt.action.upper()} DATABASE is not available here")
    try:
        action(stmt.name)
    except FlightIoxError as error:
        # InfluxDB 1.x: CREATE of an existing database and DROP of a missing one both succeed.
        if type(error).__name__ not in ("AlreadyExistsError", "DatabaseNotFoundError"):
            raise
    return []


def _explain(stmt: ast.Statement, ctx: Context) -> list[Series]:
    raise NotSupportedError("EXPLAIN is not supported for InfluxQL; use EXPLAIN over SQL")


# Statement class -> handler.
HANDLERS: dict[type, Callable[[ast.Statement, Context], list[Series]]] = {
    ast.SelectStatement: _select,
    ast.ShowStatement: _show,
    ast.DatabaseStatement: _database,
    ast.ExplainStatement: _explain,
}


def now_nanos() -> int:
    """The wall clock in nanoseconds, fixed once per query as ``now()``."""
    return time.time_ns()


def execute(text: str, ctx: Context) -> list[StatementResult]:
    """Run every statement of ``text``; a parse error raises, other errors stay per statement."""
    statements = parse(text)
    if not statements:
        raise QueryError("empty query")
    results = []
    for i, stmt in enumerate(statements):
        try:
            needs_db = not (
                isinstance(stmt, ast.DatabaseStatement)
                or (isinstance(stmt, ast.ShowStatement) and stmt.kind == "databases")
            )
            if needs_db and ctx.database is None and not _names_database(stmt):
                raise QueryError("database name required")
            results.append(StatementResult(i, HANDLERS[type(stmt)](stmt, ctx)))
        except DataFileUnavailableError:
            raise  # the server lost a file, the statement is fine: the request fails (500)
        except FlightIoxError as error:
            results.append(StatementResult(i, error=error.message))
        except Exception as error:  # DataFusion/Arrow raise plain exceptions
            log.debug("InfluxQL statement failed", exc_info=True)
            results.append(StatementResult(i, error=str(error)))
    return results


def _names_database(stmt: ast.Statement) -> bool:
    if isinstance(stmt, ast.ShowStatement):
        return stmt.database is not None
    if isinstance(stmt, ast.SelectStatement):
        return all(isinstance(s, ast.Measurement) and s.database for s in stmt.sources)
    return False
