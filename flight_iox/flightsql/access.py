"""Read permission for SQL: the default database and every catalog the SQL names.

A token limited to some databases may query them, and may not reach another
database through a fully qualified ``db.iox.table`` name. The check reads the
SQL text (``sql_text.qualified_catalogs``), so it is conservative: a
three-part name whose first part is a database the token may not read is
refused even where it would not resolve to that database. SQL that may reach
``system.tokens`` needs an admin token. Known gap:
DataFusion's ``information_schema`` lists the table and column names (never
the data) of every database.
"""

from __future__ import annotations

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.flightsql.commands import Call
from flight_iox.query.sql_text import qualified_catalogs


def require_read(call: Call, database: str | None, sql: str) -> None:
    """``ForbiddenError`` unless the caller may read every database ``sql`` touches.

    ``system.tokens`` is for admin tokens only (``Authorizer.require_tokens_access``).
    """
    if call.principal.admin:
        return
    Authorizer.require_tokens_access(call.principal, sql)
    if database is not None:
        call.require(Action.READ, database)
    named = qualified_catalogs(sql) & set(call.backend.database_names())
    for catalog in sorted(named):
        call.require(Action.READ, catalog)
