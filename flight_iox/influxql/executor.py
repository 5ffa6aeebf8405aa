"""Run an InfluxQL text: parse, then each statement through its handler, errors per statement.

As in InfluxDB 1.x, statements run in order and the first error stops the text: the
statements after it answer ``not executed``. Each handler checks the caller's permission
on every database it resolves (``Context.resolve``), so a statement the caller may not run
fails before it does anything, and nothing after it runs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import pyarrow as pa

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.errors import (
    BadRequestError,
    FlightIoxError,
    NoDatabaseError,
    NotSupportedError,
    QueryError,
    QueryLimitError,
    status_of,
)
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.continuous import run_continuous_query
from flight_iox.influxql.deletes import run_delete
from flight_iox.influxql.into import into_target, write_into
from flight_iox.influxql.meta import SHOW_HANDLERS
from flight_iox.influxql.parser import parse
from flight_iox.influxql.result import Series, StatementResult, table_series
from flight_iox.influxql.retention import run_retention_policy
from flight_iox.influxql.select import run_select
from flight_iox.influxql.subscription_statements import run_subscription
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.limits import check_expression_depth

log = logging.getLogger(__name__)


def _select(stmt: ast.Statement, ctx: Context) -> list[Series]:
    assert isinstance(stmt, ast.SelectStatement)
    target = into_target(stmt.into, ctx) if stmt.into is not None else None
    if target is not None and stmt.fill.kind == "null":
        # 1.x writes no point for an empty bucket unless fill() gives it a value: count()'s
        # 0 under fill(null) is only how the answer prints it.
        stmt = dataclasses.replace(stmt, fill=ast.Fill("none"))
    series = run_select(stmt, ctx)
    if target is not None:
        return write_into(target, series, ctx)
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
    ctx.require(Action.CREATE if stmt.action == "create" else Action.DELETE, stmt.name)
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


def _admin(stmt: ast.Statement, ctx: Context) -> list[Series]:
    assert isinstance(stmt, ast.AdminStatement)
    Authorizer.require_admin(ctx.principal)
    if stmt.kind == "show users":
        # Users are API tokens (password = token), so there are no 1.x users to list.
        return [table_series("", ["user", "admin"], [])]
    raise NotSupportedError(
        f"{stmt.kind.upper()} is not supported: users are API tokens in flight-iox "
        "(/api/v3/configure/token); shards do not exist"
    )


def _explain(stmt: ast.Statement, ctx: Context) -> list[Series]:
    raise NotSupportedError("EXPLAIN is not supported for InfluxQL; use EXPLAIN over SQL")


def run_statement(stmt: ast.Statement, ctx: Context) -> list[Series]:
    """One parsed statement through its handler (the continuous query scheduler's entry)."""
    return HANDLERS[type(stmt)](stmt, ctx)


# Statement class -> handler.
HANDLERS: dict[type, Callable[[ast.Statement, Context], list[Series]]] = {
    ast.SelectStatement: _select,
    ast.ShowStatement: _show,
    ast.DatabaseStatement: _database,
    ast.DeleteStatement: run_delete,
    ast.RetentionPolicyStatement: run_retention_policy,
    ast.ContinuousQueryStatement: run_continuous_query,
    ast.AdminStatement: _admin,
    ast.SubscriptionStatement: run_subscription,
    ast.ExplainStatement: _explain,
}


MAX_INFLUXQL_DEPTH = 250


def now_nanos() -> int:
    """The wall clock in nanoseconds, fixed once per query as ``now()``."""
    return time.time_ns()


def execute(text: str, ctx: Context) -> list[StatementResult]:
    """Run the statements of ``text`` until one fails; a parse error raises.

    In a read-only context (GET, Flight) a statement that changes data refuses the whole
    text before anything runs (``BadRequestError``).
    """
    # The parser and the SQL it generates recurse once per level (and DataFusion refuses
    # SQL nested past 50 brackets anyway): refuse deep text before any recursion.
    check_expression_depth(text, MAX_INFLUXQL_DEPTH, "InfluxQL's limit")
    statements = parse(text)
    if not statements:
        raise QueryError("empty query")
    if ctx.read_only:
        for stmt in statements:
            if not is_read_only(stmt):
                raise BadRequestError(
                    f"{statement_kind(stmt)} changes data, and this request is read-only "
                    "(GET, Flight): send it with POST to /query or /api/v3/query_influxql"
                )
    results = []
    for i, stmt in enumerate(statements):
        try:
            if _needs_database(stmt) and ctx.database is None and not _names_database(stmt):
                raise NoDatabaseError("database name required")
            results.append(StatementResult(i, HANDLERS[type(stmt)](stmt, ctx)))
        except QueryLimitError:
            raise  # the request's bounds: its status, never one statement's fault
        except FlightIoxError as error:
            if not is_statement_error(error):
                raise  # the server's failure (a lost file, a full disk, its load): its status
            results.append(StatementResult(i, error=error.message, cause=error))
        except Exception as error:
            if not is_engine_error(error):
                raise  # a bug of ours: 500 / INTERNAL with its traceback, not this statement's
            log.debug("InfluxQL statement failed", exc_info=True)
            results.append(StatementResult(i, error=str(error), cause=QueryError(str(error))))
        if results[-1].error is not None:
            results += [
                StatementResult(j, error=NOT_EXECUTED) for j in range(i + 1, len(statements))
            ]
            break
    return results


NOT_EXECUTED = "not executed"


def is_statement_error(error: FlightIoxError) -> bool:
    """Whether ``error`` is the statement's fault (4xx, or 501 for what is not served).

    A 5xx is the server's (a lost data file, a full disk, its load, a path outside the
    warehouse): reported as one statement's error in a 200 answer it would go unnoticed.
    """
    status, _ = status_of(error)
    return status < 500 or isinstance(error, NotSupportedError)


def is_read_only(stmt: ast.Statement) -> bool:
    """Whether a statement only reads: SELECT without INTO, SHOW and EXPLAIN (as InfluxDB 1.x)."""
    if isinstance(stmt, ast.SelectStatement):
        return stmt.into is None
    if isinstance(stmt, ast.AdminStatement):
        return stmt.kind.startswith("show ")
    if isinstance(stmt, ast.SubscriptionStatement):
        return stmt.action == "show"
    return isinstance(stmt, ast.ShowStatement | ast.ExplainStatement)


def statement_kind(stmt: ast.Statement) -> str:
    """A statement's name for messages (``SELECT INTO``, ``DROP DATABASE``, ...)."""
    if isinstance(stmt, ast.SelectStatement):
        return "SELECT INTO" if stmt.into is not None else "SELECT"
    if isinstance(stmt, ast.DatabaseStatement):
        return f"{stmt.action.upper()} DATABASE"
    if isinstance(stmt, ast.RetentionPolicyStatement):
        return f"{stmt.action.upper()} RETENTION POLICY"
    if isinstance(stmt, ast.ContinuousQueryStatement):
        return f"{stmt.action.upper()} CONTINUOUS QUERY"
    if isinstance(stmt, ast.DeleteStatement | ast.AdminStatement):
        return stmt.kind.upper()
    if isinstance(stmt, ast.SubscriptionStatement):
        return f"{stmt.action.upper()} SUBSCRIPTION{'S' if stmt.action == 'show' else ''}"
    return type(stmt).__name__.removesuffix("Statement").upper()


def _needs_database(stmt: ast.Statement) -> bool:
    """SELECT, EXPLAIN and SHOW (but SHOW DATABASES) read the query's database by default."""
    if isinstance(stmt, ast.ShowStatement):
        return stmt.kind not in ("databases", "continuous queries")
    return isinstance(stmt, ast.SelectStatement | ast.ExplainStatement)


def _names_database(stmt: ast.Statement) -> bool:
    if isinstance(stmt, ast.ShowStatement):
        return stmt.database is not None
    if isinstance(stmt, ast.SelectStatement):
        return all(isinstance(s, ast.Measurement) and s.database for s in stmt.sources)
    return False
