"""Catalog look-ups over Flight SQL metadata calls, never SQL text.

Names travel as fields of ``GetTables``/``GetDbSchemas`` requests. Their
filters are SQL LIKE patterns without an escape character, so a name holding
``_`` or ``%`` may match others; every look-up keeps only exact matches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
from adbc_driver_manager.dbapi import Connection

# The server's data-model constants (``flight_iox.columns``), written again here so that the
# dialect never imports the server package; tests/clients/test_distributions.py checks that
# both sides agree.
TIME_COLUMN = "time"
ROLE_KEY = b"iox::column_type"
TAG_ROLE = b"tag"

TABLE_TYPES = ("TABLE",)
VIEW_TYPES = ("VIEW", "SYSTEM TABLE")


@dataclass(frozen=True, order=True)
class TableRef:
    """One table as the server lists it."""

    catalog: str
    schema: str
    name: str
    table_type: str


def list_schemas(conn: Connection, catalog: str | None) -> list[str]:
    """The schema names of ``catalog`` (of every catalog when None)."""
    reader = conn.adbc_get_objects(depth="db_schemas", catalog_filter=catalog)
    names = {
        schema["db_schema_name"]
        for row in reader.read_all().to_pylist()
        for schema in row["catalog_db_schemas"] or ()
    }
    return sorted(names)


def list_tables(
    conn: Connection,
    catalog: str | None,
    schema: str,
    *,
    name: str | None = None,
    table_types: Sequence[str] | None = None,
) -> list[TableRef]:
    """Tables of ``schema`` (exactly ``name`` when given), of the given types."""
    reader = conn.adbc_get_objects(
        depth="tables",
        catalog_filter=catalog,
        db_schema_filter=schema,
        table_name_filter=name,
        table_types_filter=list(table_types) if table_types else None,
    )
    return sorted(
        ref
        for ref in _refs(reader.read_all())
        if ref.schema == schema and (name is None or ref.name == name)
    )


def _refs(objects: pa.Table) -> Iterator[TableRef]:
    for row in objects.to_pylist():
        for schema in row["catalog_db_schemas"] or ():
            for table in schema["db_schema_tables"] or ():
                yield TableRef(
                    row["catalog_name"],
                    schema["db_schema_name"],
                    table["table_name"],
                    table["table_type"],
                )


def table_schema(conn: Connection, ref: TableRef) -> pa.Schema:
    """The Arrow schema of one table."""
    return conn.adbc_get_table_schema(
        ref.name, catalog_filter=ref.catalog, db_schema_filter=ref.schema
    )


def primary_key(schema: pa.Schema) -> list[str]:
    """Tags (sorted) then ``time``: the key a later write of the same series replaces.

    Columns carry their role in metadata; without it, dictionary columns are tags.
    """
    roles = {field.name: (field.metadata or {}).get(ROLE_KEY) for field in schema}
    if not any(roles.values()):
        if TIME_COLUMN not in schema.names:
            return []
        tags = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    else:
        tags = [name for name, role in roles.items() if role == TAG_ROLE]
        if TIME_COLUMN not in roles:
            return []
    return [*sorted(tags), TIME_COLUMN]
