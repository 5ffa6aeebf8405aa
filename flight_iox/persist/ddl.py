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

import re
from typing import TYPE_CHECKING

import pyarrow as pa
from datafusion import SessionContext

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, ColumnRole
from flight_iox.engine.catalog import Column, TableSchema
from flight_iox.errors import AlreadyExistsError, BadRequestError, NotSupportedError
from flight_iox.names import identifier_problem
from flight_iox.query.sql_text import IDENT, identifier

if TYPE_CHECKING:
    from flight_iox.engine.engine import Engine

_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_PRIMARY_KEY = re.compile(
    rf"^(?:CONSTRAINT\s+{IDENT}\s+)?PRIMARY\s+KEY\s*\((?P<names>.*)\)$", re.I | re.S
)
_OTHER_CONSTRAINT = re.compile(
    rf"^(?:CONSTRAINT\s+{IDENT}\s+)?(?P<kind>UNIQUE|FOREIGN\s+KEY|CHECK)\b", re.I
)
_COLUMN_KEYWORD = re.compile(r"\b(?P<kind>PRIMARY\s+KEY|REFERENCES|CHECK|UNIQUE)\b", re.I)


def _split(body: str) -> list[str]:
    """The comma-separated items of a column list, outside parentheses and quotes."""
    items, depth, start, quote = [], 0, 0, ""
    for i, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:i].strip())
            start = i + 1
    items.append(body[start:].strip())
    return [item for item in items if item]


def _key_columns(items: list[str]) -> list[str] | None:
    """The PRIMARY KEY columns (table or column constraint), None without one."""
    keys: list[str] | None = None
    for item in items:
        if match := _PRIMARY_KEY.match(item):
            keys = [identifier(name) for name in _split(match.group("names"))]
        elif match := _OTHER_CONSTRAINT.match(item):
            kind = " ".join(match.group("kind").upper().split())
            raise NotSupportedError(f"flight-iox tables have no {kind} constraints")
        else:
            name = re.match(IDENT, item)
            rest = _QUOTED.sub("''", item[name.end() :] if name else item)
            for keyword in _COLUMN_KEYWORD.finditer(rest):
                kind = " ".join(keyword.group("kind").upper().split())
                if kind != "PRIMARY KEY":
                    raise NotSupportedError(f"flight-iox tables have no {kind} constraints")
                keys = [*(keys or []), identifier(name.group(0) if name else item)]
    return keys


def _declared_schema(body: str) -> pa.Schema:
    """The Arrow types DataFusion gives the column list."""
    context = SessionContext()
    try:
        context.sql(f"CREATE TABLE t {body}")
        return context.table("t").schema()
    except Exception as error:  # DataFusion's message says what is wrong
        raise BadRequestError(f"invalid CREATE TABLE: {error}") from None


def _field_type(name: str, data_type: pa.DataType) -> pa.DataType:
    types = pa.types
    if types.is_string(data_type) or types.is_large_string(data_type):
        return pa.string()
    if types.is_string_view(data_type):
        return pa.string()
    if types.is_boolean(data_type):
        return pa.bool_()
    if types.is_signed_integer(data_type):
        return pa.int64()
    if types.is_unsigned_integer(data_type):
        return pa.uint64()
    if types.is_floating(data_type):
        return pa.float64()
    raise BadRequestError(
        f"column {name!r} has type {data_type}: flight-iox fields are float, integer, "
        "unsigned, boolean or string (and time is the only timestamp)"
    )


def table_columns(body: str) -> dict[str, Column]:
    """The columns of a ``CREATE TABLE`` column list ``(...)``, with their roles."""
    keys = _key_columns(_split(body.strip()[1:-1]))
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
    engine: Engine,
    database: str,
    table: str,
    body: str,
    *,
    principal: Principal,
    if_not_exists: bool = False,
) -> None:
    """Create an empty table from a column list; durable (in Iceberg) once this returns.

    ``principal`` needs ``create`` on ``database``.
    """
    Authorizer.require(principal, Action.CREATE, database)
    if problem := identifier_problem(table):
        raise BadRequestError(f"invalid table name: {problem}")
    columns = table_columns(body)
    catalog = engine.catalog
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
    engine.iceberg.table_location(database, table, schema)  # commits the empty table
    with catalog.lock:
        if exists():  # a write created it meanwhile
            return
        catalog.add_columns(catalog.database(database), table, columns)
