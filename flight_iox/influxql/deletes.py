"""``DROP MEASUREMENT``, ``DROP SERIES`` and ``DELETE``: resolved and authorized here.

Each source's database (or the query's) needs ``delete``, checked where it is
resolved, before anything runs. ``DROP SERIES`` and ``DELETE`` also read the
schema (to find the measurements a regex or a missing FROM stands for, and to
type the WHERE clause), so they need ``read`` too; ``DROP MEASUREMENT name``
needs only ``delete``. The work is done by the engine's update path (the SQL
``DROP TABLE`` / ``DELETE FROM`` of ``persist/deletes.py``), with every name
quoted and the WHERE clause compiled exactly as a SELECT's.
"""

from __future__ import annotations

from flight_iox.auth.tokens import Action
from flight_iox.errors import NotSupportedError, QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.expressions import RowCompiler
from flight_iox.influxql.result import Series
from flight_iox.influxql.select import measurement_names
from flight_iox.sql_quote import quote_identifier


def run_delete(stmt: ast.Statement, ctx: Context) -> list[Series]:
    """Run a ``DeleteStatement``; InfluxDB answers these with no series."""
    assert isinstance(stmt, ast.DeleteStatement)
    sources = stmt.sources or (ast.Measurement(regex=""),)  # no FROM: every measurement
    targets: list[tuple[str, ast.Measurement]] = []
    for source in sources:
        if not isinstance(source, ast.Measurement):
            raise QueryError(f"subqueries are not allowed in {stmt.kind.upper()}")
        targets.append((ctx.resolve(source.database, Action.DELETE), source))
    if ctx.update is None:
        raise NotSupportedError(f"{stmt.kind.upper()} is not available here")
    for database, source in targets:
        if stmt.kind == "drop measurement":
            if source.name is None:
                raise QueryError("DROP MEASUREMENT takes a measurement name, not a regex")
            ctx.update(database, f"DROP TABLE {_table(database, source.name)}")
            continue
        _, names = measurement_names(source, ctx)  # reads the schema: needs read
        infos = ctx.tables(database)
        for name in names:
            sql = f"DELETE FROM {_table(database, name)}"
            if stmt.condition is not None:
                where = RowCompiler(infos[name], ctx.now).condition(stmt.condition).sql
                sql += f" WHERE {where}"
            ctx.update(database, sql)
    return []


def _table(database: str, name: str) -> str:
    return f"{quote_identifier(database)}.iox.{quote_identifier(name)}"
