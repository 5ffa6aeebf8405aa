"""``CREATE``/``DROP``/``SHOW CONTINUOUS QUERIES``: the definitions, kept with the database.

A continuous query is stored as its CREATE text with the token that created it (the
database's named settings in the schema catalog, written before the statement answers),
and is dropped with its database. ``cq_scheduler`` runs them.

Permissions are checked where the names resolve, as for any statement: CREATE needs
``create`` on the ``ON`` database, plus, checked now so a definition can never reach
beyond its author, ``read`` on every FROM database and ``write`` on the INTO database;
each run then acts as the creating token again (a token since deleted or narrowed makes
the run fail with its error). DROP needs ``delete``; SHOW lists the databases the caller
may read.
"""

from __future__ import annotations

import time

from flight_iox.auth.tokens import Action
from flight_iox.errors import AlreadyExistsError, NotFoundError, NotSupportedError, QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.result import Series, table_series

SETTING_KIND = "continuous_query"


def _database(ctx: Context, name: str, action: Action) -> None:
    ctx.require(action, name)
    if ctx.admin is None:
        raise NotSupportedError("continuous queries are not available here")
    if name not in ctx.admin.database_names():
        raise QueryError(f"database not found: {name}")


def _check_reach(stmt: ast.ContinuousQueryStatement, ctx: Context) -> None:
    """The creator may read every source and write the target (nothing runs yet)."""
    assert stmt.select is not None
    pending: list[ast.SelectStatement] = [stmt.select]
    while pending:
        select = pending.pop()
        for source in select.sources:
            if isinstance(source, ast.SubQuery):
                pending.append(source.statement)
            else:
                ctx.require(Action.READ, source.database or stmt.database)
    into = stmt.select.into
    assert into is not None
    ctx.require(Action.WRITE, into.database or stmt.database)


def run_continuous_query(stmt: ast.Statement, ctx: Context) -> list[Series]:
    """``CREATE`` or ``DROP CONTINUOUS QUERY``; answered with no series, as 1.x does."""
    assert isinstance(stmt, ast.ContinuousQueryStatement)
    if stmt.action == "drop":
        _database(ctx, stmt.database, Action.DELETE)
        assert ctx.admin is not None
        if stmt.name not in ctx.admin.settings(stmt.database, SETTING_KIND):
            raise NotFoundError(f"continuous query not found: {stmt.name}")
        ctx.admin.put_setting(stmt.database, SETTING_KIND, stmt.name, None)
        return []
    _database(ctx, stmt.database, Action.CREATE)
    assert ctx.admin is not None
    _check_reach(stmt, ctx)
    existing = ctx.admin.settings(stmt.database, SETTING_KIND).get(stmt.name)
    if existing is not None:
        if existing.get("query") == stmt.text:
            return []  # 1.x: the same definition again is not an error
        raise AlreadyExistsError(f"continuous query already exists: {stmt.name}")
    record = ctx.principal.record
    definition: dict[str, object] = {
        "query": stmt.text,
        "owner_id": record.id if record is not None else None,
        "owner": ctx.principal.name,
        "created_ns": time.time_ns(),
    }
    ctx.admin.put_setting(stmt.database, SETTING_KIND, stmt.name, definition)
    return []


def show_continuous_queries(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW CONTINUOUS QUERIES``: one series per readable database (``name``, ``query``)."""
    if ctx.admin is None:
        raise NotSupportedError("SHOW CONTINUOUS QUERIES is not available here")
    out = []
    for database in ctx.principal.readable(ctx.admin.database_names()):
        stored = ctx.admin.settings(database, SETTING_KIND)
        rows: list[list[object]] = [[n, stored[n].get("query", "")] for n in sorted(stored)]
        out.append(table_series(database, ["name", "query"], rows))
    return out
