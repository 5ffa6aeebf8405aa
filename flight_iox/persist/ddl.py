"""``CREATE TABLE``: an empty table, in the schema catalog and durably in Iceberg.

The mapping from SQL to the InfluxDB data model (documented in docs/flight-sql.md):

- ``time`` is required and must be a ``TIMESTAMP`` (stored as nanoseconds);
- tags are the ``PRIMARY KEY`` columns other than ``time`` (they must be
  strings), or, without a primary key, every string column (as for Arrow ingest);
- every other column is a field: integers become ``BIGINT`` (int64), unsigned
  integers ``BIGINT UNSIGNED`` (uint64), ``REAL``/``FLOAT``/``DOUBLE`` become
  float64, then ``BOOLEAN`` and strings; other types are refused;
- ``NOT NULL`` and ``DEFAULT`` are accepted and not kept (fields are nullable);
  ``UNIQUE``, ``FOREIGN KEY``/``REFERENCES`` and ``CHECK`` are refused.

DataFusion parses the column list (in a scratch context), so the SQL types are
exactly the ones queries know. The empty Iceberg table is committed before the
table appears in the schema catalog, so a table a client saw created is there
after a restart (startup loads every Iceberg table).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from datafusion import SessionContext

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, ColumnRole, FieldType
from flight_iox.engine.catalog import Column, TableSchema
from flight_iox.errors import AlreadyExistsError, BadRequestError, NotSupportedError
from flight_iox.names import identifier_problem
from flight_iox.persist.tables import TableStore
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.sql_tokens import Token, TokenType, tokenize
from iox_catalog.partitioning import PartitioningError

_REFUSED = {"unique": "UNIQUE", "foreign": "FOREIGN KEY", "check": "CHECK"}


def _items(body: str) -> list[tuple[Token, ...]]:
    """The comma-separated items of a column list ``( ... )``, as tokens."""
    tokens = tokenize(body)
    if (
        len(tokens) < 2
        or tokens[0].type is not TokenType.L_PAREN
        or tokens[-1].type is not TokenType.R_PAREN
    ):
        raise BadRequestError("invalid CREATE TABLE: expected a column list in parentheses")
    items: list[tuple[Token, ...]] = []
    depth, start = 0, 1
    for index, token in enumerate(tokens[1:-1], start=1):
        depth += (token.type is TokenType.L_PAREN) - (token.type is TokenType.R_PAREN)
        if token.type is TokenType.COMMA and depth == 0:
            items.append(tokens[start:index])
            start = index + 1
    items.append(tokens[start:-1])
    return [item for item in items if item]


def _key_columns(items: list[tuple[Token, ...]]) -> list[str] | None:
    """The PRIMARY KEY columns (table or column constraint), None without one."""
    keys: list[str] | None = None
    for item in items:
        words = [token.word for token in item]
        at = 2 if words[0] == "constraint" else 0  # CONSTRAINT name ...
        if words[at : at + 2] == ["primary", "key"]:
            keys = [t.name for t in item[at + 2 :] if t.name is not None]
        elif words[at] in _REFUSED:
            raise NotSupportedError(f"flight-iox tables have no {_REFUSED[words[at]]} constraints")
        else:  # a column: name type [constraints]
            for index, word in enumerate(words[1:], start=1):
                if word in ("references", "check", "unique"):
                    raise NotSupportedError(f"flight-iox tables have no {word.upper()} constraints")
                if word == "primary" and words[index + 1 : index + 2] == ["key"]:
                    keys = [*(keys or []), item[0].name or item[0].text]
    return keys


def _declared_schema(body: str) -> pa.Schema:
    """The Arrow types DataFusion gives the column list."""
    context = SessionContext()
    try:
        context.sql(f"CREATE TABLE t {body}")
        return context.table("t").schema()
    except Exception as error:
        if not is_engine_error(error):
            raise
        raise BadRequestError(f"invalid CREATE TABLE: {error}") from None


def _field_type(name: str, data_type: pa.DataType) -> pa.DataType:
    kind = FieldType.widening(data_type)
    if kind is not None:
        return kind.arrow_type
    raise BadRequestError(
        f"column {name!r} has type {data_type}: flight-iox fields are float, integer, "
        "unsigned, boolean or string (and time is the only timestamp)"
    )


def table_columns(body: str) -> dict[str, Column]:
    """The columns of a ``CREATE TABLE`` column list ``(...)``, with their roles."""
    keys = _key_columns(_items(body))
    schema = _declared_schema(body)
    if TIME_COLUMN not in schema.names or not pa.types.is_timestamp(schema.field(TIME_COLUMN).type):
        raise BadRequestError("a flight-iox table needs a 'time' column of type TIMESTAMP")
    tags = set(keys or ()) - {TIME_COLUMN}
    if unknown := tags - set(schema.names):
        raise BadRequestError(f"PRIMARY KEY names unknown columns: {sorted(unknown)}")
    columns = {TIME_COLUMN: Column(ColumnRole.TIME, TIME_TYPE)}
    for field in schema:
        if problem := identifier_problem(field.name):
            raise BadRequestError(f"invalid column name: {problem}")
        if field.name == TIME_COLUMN:
            continue
        data_type = _field_type(field.name, field.type)
        is_tag = field.name in tags if keys is not None else data_type == pa.string()
        if is_tag and data_type != pa.string():
            raise BadRequestError(f"tag column {field.name!r} must be a string, not {field.type}")
        role = ColumnRole.TAG if is_tag else ColumnRole.FIELD
        columns[field.name] = Column(role, TAG_TYPE if is_tag else data_type)
    return columns


def create_table(
    tables: TableStore,
    database: str,
    table: str,
    body: str,
    *,
    principal: Principal,
    if_not_exists: bool = False,
) -> None:
    """Create an empty table from a column list; durable (in Iceberg) once this returns.

    ``principal`` needs ``create`` on ``database`` (checked before the list is read).
    """
    Authorizer.require(principal, Action.CREATE, database)
    if problem := identifier_problem(table):
        raise BadRequestError(f"invalid table name: {problem}")
    columns = table_columns(body)
    create_table_with_columns(
        tables, database, table, columns, principal=principal, if_not_exists=if_not_exists
    )


def create_table_with_columns(
    tables: TableStore,
    database: str,
    table: str,
    columns: dict[str, Column],
    *,
    principal: Principal,
    if_not_exists: bool = False,
    partition_by: Sequence[str] | None = None,
) -> None:
    """Create an empty table with ``columns`` (``time`` among them); durable once this returns.

    The one creation path: SQL ``CREATE TABLE`` and ``POST /api/v3/configure/table``
    both end here. ``principal`` needs ``create`` on ``database``. ``partition_by``: the
    table's partition spec (None: the database's default template, else ``day(time)``);
    one that does not fit the columns is a ``BadRequestError`` and creates nothing.
    """
    Authorizer.require(principal, Action.CREATE, database)
    if problem := identifier_problem(table):
        raise BadRequestError(f"invalid table name: {problem}")
    for name in columns:
        if problem := identifier_problem(name):
            raise BadRequestError(f"invalid column name: {problem}")
    catalog = tables.catalog
    limit = catalog.limits.max_columns_per_table
    if len(columns) > limit:
        raise BadRequestError(f"{len(columns)} columns exceed the limit of {limit} per table")

    def exists() -> bool:  # call under the catalog lock
        db = catalog.database(database)
        if table in db.tables:
            if if_not_exists:
                return True
            raise AlreadyExistsError(f"table already exists: {database}.{table}")
        catalog.check_new_table(db, table)
        return False

    with catalog.lock:
        if exists():
            return
    schema = TableSchema(table, columns).arrow_schema()
    try:  # commits the empty table, with its spec
        tables.iceberg.create_table(database, table, schema, partition_by)
    except PartitioningError as error:
        raise BadRequestError(f"{database}.{table}: {error}") from None
    with catalog.lock:
        if exists():  # a write created it meanwhile
            return
        catalog.add_columns(catalog.database(database), table, columns)
