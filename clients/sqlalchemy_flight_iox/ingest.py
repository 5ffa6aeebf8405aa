"""Plain INSERTs as Flight SQL bulk ingest (``adbc_ingest``).

flight-iox accepts rows through ``CommandStatementIngest``, not through SQL
DML, so an INSERT whose values are all bound parameters (``conn.execute(
table.insert(), rows)``, ``DataFrame.to_sql``) is sent as one Arrow table.
The mode is ``create_append``: as with any InfluxDB write, the first write to a
table creates it. Anything else (INSERT ... SELECT, SQL expressions as values,
RETURNING) goes to the server as SQL, which refuses DML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy.sql import dml
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.schema import Column, Table

from sqlalchemy_flight_iox.compat import returns_rows
from sqlalchemy_flight_iox.types import arrow_type

if TYPE_CHECKING:
    from sqlalchemy.engine.default import DefaultDialect, DefaultExecutionContext


def ingest_plan(context: DefaultExecutionContext) -> tuple[Table, list[Column[Any]]] | None:
    """The table and columns a plain INSERT of bound values writes, or None if not plain."""
    compiled = context.compiled
    if not context.isinsert or not isinstance(compiled, SQLCompiler):
        return None
    stmt = compiled.statement
    if not isinstance(stmt, dml.Insert) or not isinstance(stmt.table, Table):
        return None
    if stmt.select is not None or stmt._multi_values or returns_rows(compiled):
        return None
    if any(not isinstance(v, BindParameter) for v in (stmt._values or {}).values()):
        return None
    table = stmt.table
    if any(c.default is not None and c.default.is_clause_element for c in table.columns):
        return None
    params = context.compiled_parameters
    if not params:
        return None
    keys = list(params[0])
    if any(key not in table.c for key in keys):
        return None
    return table, [table.c[key] for key in keys]


def arrow_rows(columns: list[Column[Any]], rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The rows as an Arrow table, each column typed from its SQLAlchemy type."""
    arrays = {}
    for column in columns:
        values = [row.get(column.key) for row in rows]
        arrays[column.name] = pa.array(values, type=arrow_type(column.type))
    return pa.table(arrays)


def try_ingest(dialect: DefaultDialect, cursor: Any, context: DefaultExecutionContext) -> bool:
    """Ingest the statement's rows if it is a plain INSERT; False to run it as SQL."""
    plan = ingest_plan(context)
    if plan is None:
        return False
    table, columns = plan
    data = arrow_rows(columns, context.compiled_parameters)
    cursor.adbc_ingest(table.name, data, mode="create_append", db_schema_name=table.schema)
    return True
