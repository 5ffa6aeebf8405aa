"""Catalog metadata commands: GetCatalogs, GetDbSchemas, GetTables, GetTableTypes.

Each database is a catalog. GetCatalogs lists every database the caller may read;
GetDbSchemas and GetTables list the catalog the command names, else the call's database
(``catalogs``), so a client working in one database is not shown the others' tables. A
database's user tables are in schema ``iox`` (type TABLE); the engine's other schemas
(DataFusion's ``information_schema``, whose tables are views, and ``system``) are listed
from the engine's own ``information_schema.tables``. Results are built directly in the
canonical schemas of ``schemas.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any as AnyType

import pyarrow as pa

from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import (
    Call,
    CommandHandler,
    FlightInfoHandler,
    FlightInfoResult,
    pack,
)
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.safe_regex import regex_fullmatch
from flight_iox.sql_quote import quote_identifier

USER_SCHEMA = "iox"
TABLE_TYPES = ("SYSTEM TABLE", "TABLE", "VIEW")

# DataFusion's information_schema table_type -> Flight SQL table type.
_ENGINE_TABLE_TYPES = {"BASE TABLE": "TABLE", "VIEW": "VIEW", "SYSTEM TABLE": "SYSTEM TABLE"}

# Lists the engine's non-user tables of one catalog; the catalog is a bound
# parameter, never pasted into the SQL.
_ENGINE_TABLES_SQL = (
    "SELECT table_schema, table_name, table_type FROM information_schema.tables "
    "WHERE table_catalog = $1 AND table_schema <> 'iox'"
)


@dataclass(frozen=True, order=True)
class TableEntry:
    """One table of a catalog listing, ordered as GetTables orders its rows."""

    catalog: str
    db_schema: str
    name: str
    table_type: str


@lru_cache(maxsize=256)
def like_regex(pattern: str) -> str:
    """SQL LIKE: ``%`` any run of characters, ``_`` one character, ``\\`` escapes the next.

    The escape is what GetSqlInfo's SQL_SEARCH_STRING_ESCAPE announces; JDBC
    uses it to match a table name containing ``_`` exactly.
    """
    parts: list[str] = []
    escaped = False
    for ch in pattern:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            parts.append("." if ch == "_" else ".*" if ch == "%" else re.escape(ch))
    if escaped:
        parts.append(re.escape("\\"))
    return "(?s)" + "".join(parts)  # run on RE2: ``%a%a%…`` backtracks in ``re``


def matches(pattern: str | None, value: str) -> bool:
    """Whether ``value`` matches an optional LIKE pattern (None matches everything)."""
    return pattern is None or regex_fullmatch(like_regex(pattern), value)


def optional(message: AnyType, field: str) -> str | None:
    """An optional string field of a command, None when unset."""
    return getattr(message, field) if message.HasField(field) else None


def catalogs(call: Call, catalog: str | None) -> list[str]:
    """The databases a schema or table listing covers, of those the caller may read.

    The catalog the command names; without one, the call's database (its ``database``
    header or session catalog); without either, every one. GetCatalogs lists every one:
    asking for the catalogs is asking for the other databases.
    """
    names = call.backend.database_names()  # scoped: the databases the caller may read
    wanted = catalog if catalog is not None else call.database
    return names if wanted is None else [name for name in names if name == wanted]


def engine_tables(call: Call, catalog: str) -> list[TableEntry]:
    """The tables of ``catalog`` outside schema ``iox``, as the engine lists them."""
    rows = call.backend.execute(catalog, _ENGINE_TABLES_SQL, [catalog]).read_all().to_pylist()
    return [
        TableEntry(
            catalog,
            str(row["table_schema"]),
            str(row["table_name"]),
            _ENGINE_TABLE_TYPES.get(str(row["table_type"]), str(row["table_type"])),
        )
        for row in rows
    ]


def catalog_tables(call: Call, catalog: str) -> list[TableEntry]:
    """Every table of a catalog: user tables, then the engine's."""
    user = [
        TableEntry(catalog, USER_SCHEMA, name, "TABLE")
        for name in call.backend.table_schemas(catalog)
    ]
    return user + engine_tables(call, catalog)


def _table_schema(call: Call, entry: TableEntry, user_schemas: dict[str, pa.Schema]) -> pa.Schema:
    if entry.db_schema == USER_SCHEMA:
        return user_schemas[entry.name]
    sql = f"SELECT * FROM {quote_identifier(entry.db_schema)}.{quote_identifier(entry.name)}"
    return call.backend.query_schema(entry.catalog, sql)


def reader(schema: pa.Schema, columns: Mapping[str, Sequence[object]]) -> pa.RecordBatchReader:
    """A reader over ``columns`` built in exactly ``schema``."""
    table = pa.Table.from_pydict(columns, schema=schema)
    return pa.RecordBatchReader.from_batches(schema, table.to_batches())


def metadata_info(schema: pa.Schema) -> FlightInfoHandler:
    """GetFlightInfo of a command whose schema is fixed: the ticket is the command."""

    def flight_info(call: Call, command: AnyType) -> FlightInfoResult:
        return FlightInfoResult(schema, pack(command))

    return flight_info


def get_catalogs(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """One row per database the caller may read, sorted."""
    return reader(schemas.CATALOGS, {"catalog_name": call.backend.database_names()})


def get_db_schemas(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """The schemas of each database: ``iox`` plus the engine's own."""
    pattern = optional(command, "db_schema_filter_pattern")
    rows: set[tuple[str, str]] = set()
    for catalog in catalogs(call, optional(command, "catalog")):
        names = {USER_SCHEMA} | {entry.db_schema for entry in engine_tables(call, catalog)}
        rows.update((catalog, name) for name in names if matches(pattern, name))
    ordered = sorted(rows)
    return reader(
        schemas.DB_SCHEMAS,
        {
            "catalog_name": [catalog for catalog, _ in ordered],
            "db_schema_name": [name for _, name in ordered],
        },
    )


def _selected_tables(call: Call, command: AnyType) -> Iterable[TableEntry]:
    schema_pattern = optional(command, "db_schema_filter_pattern")
    table_pattern = optional(command, "table_name_filter_pattern")
    types = set(command.table_types)
    for catalog in catalogs(call, optional(command, "catalog")):
        for entry in catalog_tables(call, catalog):
            if (
                matches(schema_pattern, entry.db_schema)
                and matches(table_pattern, entry.name)
                and (not types or entry.table_type in types)
            ):
                yield entry


def get_tables(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """Tables matching the filters; with ``include_schema``, each one's IPC schema."""
    entries = sorted(_selected_tables(call, command))
    columns: dict[str, Sequence[object]] = {
        "catalog_name": [entry.catalog for entry in entries],
        "db_schema_name": [entry.db_schema for entry in entries],
        "table_name": [entry.name for entry in entries],
        "table_type": [entry.table_type for entry in entries],
    }
    if not command.include_schema:
        return reader(schemas.TABLES, columns)
    user_schemas: dict[str, dict[str, pa.Schema]] = {}
    serialized = []
    for entry in entries:
        if entry.catalog not in user_schemas:
            user_schemas[entry.catalog] = call.backend.table_schemas(entry.catalog)
        schema = _table_schema(call, entry, user_schemas[entry.catalog])
        serialized.append(schemas.serialize_schema(schema))
    columns["table_schema"] = serialized
    return reader(schemas.TABLES_WITH_SCHEMA, columns)


def get_tables_info(call: Call, command: AnyType) -> FlightInfoResult:
    """GetTables' schema depends on ``include_schema``."""
    schema = schemas.TABLES_WITH_SCHEMA if command.include_schema else schemas.TABLES
    return FlightInfoResult(schema, pack(command))


def get_table_types(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """The table types flight-iox uses, sorted."""
    return reader(schemas.TABLE_TYPES, {"table_type": list(TABLE_TYPES)})


COMMANDS = [
    CommandHandler(pb.CommandGetCatalogs, metadata_info(schemas.CATALOGS), get_catalogs),
    CommandHandler(pb.CommandGetDbSchemas, metadata_info(schemas.DB_SCHEMAS), get_db_schemas),
    CommandHandler(pb.CommandGetTables, get_tables_info, get_tables),
    CommandHandler(pb.CommandGetTableTypes, metadata_info(schemas.TABLE_TYPES), get_table_types),
]
