"""What statements run against: the caller, the query engine, the write path, the database, ``now``.

Every database an InfluxQL statement touches is checked against the caller's
``Principal`` where the statement resolves the name (a FROM source, the INTO
target, an ``ON`` clause, a DDL name), with ``Context.require``; reads of table
schemas and rows (``tables``, ``sql``) check again, so a name that reaches the
backend without passing a resolver is still refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.columns import ColumnRole, FieldType, role_of
from flight_iox.errors import NoDatabaseError
from flight_iox.influxql.expressions import TableInfo
from flight_iox.query.backend import DatabaseAdmin, QueryBackend, SubscriptionAdmin

TABLE_INFOS = 1024  # (name, schema) pairs whose TableInfo is kept


@lru_cache(maxsize=TABLE_INFOS)
def table_info(name: str, schema: pa.Schema) -> TableInfo:
    """A measurement's tags and typed fields, from its Arrow schema's role metadata.

    Kept per name and schema: every query asks for all the tables of its database.
    """
    tags: list[str] = []
    fields: dict[str, str] = {}
    for f in schema:
        role = role_of(f)
        if role is ColumnRole.TAG:
            tags.append(f.name)
        elif role is ColumnRole.FIELD:
            fields[f.name] = FieldType.of_arrow(f.type) or FieldType.STRING
    return TableInfo(name, frozenset(tags), fields)


@dataclass
class Context:
    """One query's environment; ``write`` stores SELECT INTO results (may be absent).

    ``read_only`` (GET requests, Flight) refuses every statement that changes data before
    any runs.
    """

    backend: QueryBackend
    database: str | None
    now: int
    principal: Principal
    read_only: bool = False
    write: Callable[[str, str, pa.Table, list[str]], int] | None = None
    create_database: Callable[[str], None] | None = None
    drop_database: Callable[[str], None] | None = None
    # Runs a DELETE FROM / DROP TABLE (SQL, names quoted) on a database: the engine's updates.
    update: Callable[[str, str], int] | None = None
    # Retention policies, continuous queries (their settings): absent for read-only callers.
    admin: DatabaseAdmin | None = None
    subscriptions: SubscriptionAdmin | None = None  # CREATE/DROP/SHOW SUBSCRIPTION
    _infos: dict[str, dict[str, TableInfo]] = field(default_factory=dict)

    def require(self, action: Action, database: str) -> None:
        """``ForbiddenError`` (naming the token and the database) unless the caller may."""
        Authorizer.require(self.principal, action, database)

    def resolve(self, database: str | None, action: Action = Action.READ) -> str:
        """The database a statement names (or the query's default), checked for ``action``."""
        name = database or self.database
        if name is None:
            raise NoDatabaseError("database name required")
        self.require(action, name)
        return name

    def tables(self, database: str | None = None) -> dict[str, TableInfo]:
        """The measurements of a database (the query's by default), cached per query."""
        name = self.resolve(database)
        if name not in self._infos:
            schemas = self.backend.table_schemas(name)
            self._infos[name] = {t: table_info(t, s) for t, s in schemas.items()}
        return self._infos[name]

    def sql(self, database: str, sql: str) -> pa.Table:
        """Run SQL on a database and read the whole (already reduced) result."""
        self.require(Action.READ, database)
        return plain_strings(self.backend.execute(database, sql).read_all())


def plain_strings(table: pa.Table) -> pa.Table:
    """``string_view`` columns (DataFusion's choice) as ``string``, which every kernel takes."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table
