"""Key commands: GetPrimaryKeys, GetExportedKeys, GetImportedKeys, GetCrossReference.

A table's primary key is its tag set plus ``time`` (tags by name, then time),
as in the data model: writing the same key twice keeps the last write. Tags
are the dictionary-typed columns of the engine's table schemas. There are no
foreign keys, so the other three commands answer no rows, in their exact schemas.
"""

from __future__ import annotations

from typing import Any as AnyType

import pyarrow as pa

from flight_iox.columns import TIME_COLUMN
from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import Call, CommandHandler
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.metadata import USER_SCHEMA, catalogs, metadata_info, optional, reader


def key_columns(schema: pa.Schema) -> list[str]:
    """The primary key of a table: its tags, sorted, then ``time`` when it has one."""
    tags = sorted(f.name for f in schema if pa.types.is_dictionary(f.type))
    return tags + ([TIME_COLUMN] if TIME_COLUMN in schema.names else [])


def get_primary_keys(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """One row per key column of the table named, in key order."""
    rows: list[tuple[str, str, int]] = []
    db_schema = optional(command, "db_schema")
    if db_schema in (None, USER_SCHEMA):
        for catalog in catalogs(call, optional(command, "catalog")):
            table_schema = call.backend.table_schemas(catalog).get(command.table)
            if table_schema is not None:
                columns = key_columns(table_schema)
                rows.extend((catalog, name, i) for i, name in enumerate(columns, start=1))
    return reader(
        schemas.PRIMARY_KEYS,
        {
            "catalog_name": [catalog for catalog, _, _ in rows],
            "db_schema_name": [USER_SCHEMA] * len(rows),
            "table_name": [command.table] * len(rows),
            "column_name": [name for _, name, _ in rows],
            "key_sequence": [sequence for _, _, sequence in rows],
            "key_name": [None] * len(rows),
        },
    )


def no_foreign_keys(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """flight-iox tables have no foreign keys."""
    empty = schemas.FOREIGN_KEYS.empty_table()
    return pa.RecordBatchReader.from_batches(schemas.FOREIGN_KEYS, empty.to_batches())


COMMANDS = [
    CommandHandler(pb.CommandGetPrimaryKeys, metadata_info(schemas.PRIMARY_KEYS), get_primary_keys),
    CommandHandler(
        pb.CommandGetExportedKeys, metadata_info(schemas.EXPORTED_KEYS), no_foreign_keys
    ),
    CommandHandler(
        pb.CommandGetImportedKeys, metadata_info(schemas.IMPORTED_KEYS), no_foreign_keys
    ),
    CommandHandler(
        pb.CommandGetCrossReference, metadata_info(schemas.CROSS_REFERENCE), no_foreign_keys
    ),
]
