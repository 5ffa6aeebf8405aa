"""Canonical result schemas of the Flight SQL metadata commands.

Written once, with the exact names, types and nullability of the reference
implementations (arrow-go ``flightsql/schema_ref``, Arrow C++ ``SqlSchema``):
the ADBC driver compares what a server returns against these. Every metadata
endpoint builds its result with one of these constants, never from engine
output, so a string-view or a nullable column cannot slip through.

Note: ``PRIMARY_KEYS`` puts ``key_sequence`` before ``key_name``, as the
reference implementations do (the comment in FlightSql.proto lists them the
other way round).
"""

from __future__ import annotations

import pyarrow as pa


def _utf8(name: str, nullable: bool) -> pa.Field:
    return pa.field(name, pa.utf8(), nullable=nullable)


CATALOGS = pa.schema([_utf8("catalog_name", False)])

DB_SCHEMAS = pa.schema([_utf8("catalog_name", True), _utf8("db_schema_name", False)])

TABLES = pa.schema(
    [
        _utf8("catalog_name", True),
        _utf8("db_schema_name", True),
        _utf8("table_name", False),
        _utf8("table_type", False),
    ]
)

TABLES_WITH_SCHEMA = TABLES.append(pa.field("table_schema", pa.binary(), nullable=False))

TABLE_TYPES = pa.schema([_utf8("table_type", False)])

PRIMARY_KEYS = pa.schema(
    [
        _utf8("catalog_name", True),
        _utf8("db_schema_name", True),
        _utf8("table_name", False),
        _utf8("column_name", False),
        pa.field("key_sequence", pa.int32(), nullable=False),
        _utf8("key_name", True),
    ]
)

# Shared by GetExportedKeys, GetImportedKeys and GetCrossReference.
FOREIGN_KEYS = pa.schema(
    [
        _utf8("pk_catalog_name", True),
        _utf8("pk_db_schema_name", True),
        _utf8("pk_table_name", False),
        _utf8("pk_column_name", False),
        _utf8("fk_catalog_name", True),
        _utf8("fk_db_schema_name", True),
        _utf8("fk_table_name", False),
        _utf8("fk_column_name", False),
        pa.field("key_sequence", pa.int32(), nullable=False),
        _utf8("fk_key_name", True),
        _utf8("pk_key_name", True),
        pa.field("update_rule", pa.uint8(), nullable=False),
        pa.field("delete_rule", pa.uint8(), nullable=False),
    ]
)
EXPORTED_KEYS = FOREIGN_KEYS
IMPORTED_KEYS = FOREIGN_KEYS
CROSS_REFERENCE = FOREIGN_KEYS

# The dense union of GetSqlInfo values. The type codes 0..5 are the child
# positions; sql_info.py relies on this order.
SQL_INFO_VALUE_TYPE = pa.dense_union(
    [
        pa.field("string_value", pa.utf8(), nullable=False),
        pa.field("bool_value", pa.bool_(), nullable=False),
        pa.field("bigint_value", pa.int64(), nullable=False),
        pa.field("int32_bitmask", pa.int32(), nullable=False),
        pa.field("string_list", pa.list_(pa.utf8()), nullable=False),
        pa.field(
            "int32_to_int32_list_map",
            pa.map_(pa.int32(), pa.list_(pa.int32())),
            nullable=False,
        ),
    ],
    type_codes=[0, 1, 2, 3, 4, 5],
)

SQL_INFO = pa.schema(
    [
        pa.field("info_name", pa.uint32(), nullable=False),
        pa.field("value", SQL_INFO_VALUE_TYPE, nullable=False),
    ]
)

XDBC_TYPE_INFO = pa.schema(
    [
        _utf8("type_name", False),
        pa.field("data_type", pa.int32(), nullable=False),
        pa.field("column_size", pa.int32(), nullable=True),
        _utf8("literal_prefix", True),
        _utf8("literal_suffix", True),
        pa.field(
            "create_params",
            pa.list_(pa.field("item", pa.utf8(), nullable=False)),
            nullable=True,
        ),
        pa.field("nullable", pa.int32(), nullable=False),
        pa.field("case_sensitive", pa.bool_(), nullable=False),
        pa.field("searchable", pa.int32(), nullable=False),
        pa.field("unsigned_attribute", pa.bool_(), nullable=True),
        pa.field("fixed_prec_scale", pa.bool_(), nullable=False),
        pa.field("auto_increment", pa.bool_(), nullable=True),
        _utf8("local_type_name", True),
        pa.field("minimum_scale", pa.int32(), nullable=True),
        pa.field("maximum_scale", pa.int32(), nullable=True),
        pa.field("sql_data_type", pa.int32(), nullable=False),
        pa.field("datetime_subcode", pa.int32(), nullable=True),
        pa.field("num_prec_radix", pa.int32(), nullable=True),
        pa.field("interval_precision", pa.int32(), nullable=True),
    ]
)


def serialize_schema(schema: pa.Schema) -> bytes:
    """An Arrow schema as an IPC message, the form Flight SQL carries in bytes fields."""
    return schema.serialize().to_pybytes()
