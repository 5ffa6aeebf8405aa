"""GetSqlInfo: what flight-iox tells clients about the server and its SQL.

Values are typed by the slot of the dense union they go in (see
``schemas.SQL_INFO_VALUE_TYPE``): ``str`` is string_value, ``bool``
bool_value, ``BigInt`` bigint_value, ``int`` int32_bitmask (also used for the
spec's int32 ordinals), ``list[str]`` string_list and ``dict[int, list[int]]``
int32_to_int32_list_map. Only answers that are cheap and true are listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any as AnyType

import pyarrow as pa

import flight_iox
from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import Call, CommandHandler, FlightInfoResult, pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb

SERVER_NAME = "flight-iox"


class BigInt(int):
    """An int that goes in the int64 (bigint_value) slot of the union."""


SqlInfoValue = str | bool | int | list[str] | dict[int, list[int]]

_I = pb.SqlInfo
SQL_INFO: dict[int, SqlInfoValue] = {
    _I.FLIGHT_SQL_SERVER_NAME: SERVER_NAME,
    _I.FLIGHT_SQL_SERVER_VERSION: flight_iox.__version__,
    _I.FLIGHT_SQL_SERVER_ARROW_VERSION: pa.__version__,
    # Not read-only: ingest and INSERT write (through the WAL).
    _I.FLIGHT_SQL_SERVER_READ_ONLY: False,
    _I.FLIGHT_SQL_SERVER_SQL: True,
    _I.FLIGHT_SQL_SERVER_SUBSTRAIT: False,
    _I.FLIGHT_SQL_SERVER_TRANSACTION: pb.SQL_SUPPORTED_TRANSACTION_NONE,
    _I.FLIGHT_SQL_SERVER_CANCEL: False,
    _I.FLIGHT_SQL_SERVER_BULK_INGESTION: True,
    _I.FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED: False,
    _I.FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT: 0,
    _I.FLIGHT_SQL_SERVER_TRANSACTION_TIMEOUT: 0,
    _I.SQL_DDL_CATALOG: False,
    _I.SQL_DDL_SCHEMA: False,
    _I.SQL_DDL_TABLE: False,
    # DataFusion folds unquoted identifiers to lower case; quoted ones keep
    # their case, which the enum cannot say.
    _I.SQL_IDENTIFIER_CASE: pb.SQL_CASE_SENSITIVITY_LOWERCASE,
    _I.SQL_IDENTIFIER_QUOTE_CHAR: '"',
    _I.SQL_QUOTED_IDENTIFIER_CASE: pb.SQL_CASE_SENSITIVITY_UNKNOWN,
    _I.SQL_ALL_TABLES_ARE_SELECTABLE: True,
    _I.SQL_NULL_ORDERING: pb.SQL_NULLS_SORTED_HIGH,
    _I.SQL_SUPPORTS_COLUMN_ALIASING: True,
    _I.SQL_NULL_PLUS_NULL_IS_NULL: True,
    _I.SQL_SUPPORTS_TABLE_CORRELATION_NAMES: True,
    _I.SQL_SUPPORTS_DIFFERENT_TABLE_CORRELATION_NAMES: False,
    _I.SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY: True,
    _I.SQL_SUPPORTS_ORDER_BY_UNRELATED: True,
    _I.SQL_SUPPORTED_GROUP_BY: (
        (1 << pb.SQL_GROUP_BY_UNRELATED) | (1 << pb.SQL_GROUP_BY_BEYOND_SELECT)
    ),
    _I.SQL_SUPPORTS_NON_NULLABLE_COLUMNS: False,
    _I.SQL_OUTER_JOINS_SUPPORT_LEVEL: pb.SQL_FULL_OUTER_JOINS,
    _I.SQL_SCHEMA_TERM: "schema",
    _I.SQL_CATALOG_TERM: "database",
    _I.SQL_CATALOG_AT_START: True,
    _I.SQL_SELECT_FOR_UPDATE_SUPPORTED: False,
    _I.SQL_STORED_PROCEDURES_SUPPORTED: False,
    _I.SQL_SUPPORTED_SUBQUERIES: (
        (1 << pb.SQL_SUBQUERIES_IN_COMPARISONS)
        | (1 << pb.SQL_SUBQUERIES_IN_EXISTS)
        | (1 << pb.SQL_SUBQUERIES_IN_INS)
    ),
    _I.SQL_CORRELATED_SUBQUERIES_SUPPORTED: True,
    _I.SQL_SUPPORTED_UNIONS: (1 << pb.SQL_UNION) | (1 << pb.SQL_UNION_ALL),
    _I.SQL_TRANSACTIONS_SUPPORTED: False,
    _I.SQL_BATCH_UPDATES_SUPPORTED: False,
    _I.SQL_SAVEPOINTS_SUPPORTED: False,
    _I.SQL_NAMED_PARAMETERS_SUPPORTED: False,
    _I.SQL_LOCATORS_UPDATE_COPY: False,
    _I.SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED: False,
}

# Numeric types a CAST converts between, and what everything converts to.
_C = pb.SqlSupportsConvert
_NUMERIC = [
    _C.SQL_CONVERT_BIGINT,
    _C.SQL_CONVERT_DECIMAL,
    _C.SQL_CONVERT_FLOAT,
    _C.SQL_CONVERT_INTEGER,
    _C.SQL_CONVERT_REAL,
    _C.SQL_CONVERT_SMALLINT,
    _C.SQL_CONVERT_TINYINT,
]
_TO_TEXT = [_C.SQL_CONVERT_CHAR, _C.SQL_CONVERT_VARCHAR]
_CONVERSIONS: dict[int, list[int]] = {
    **{kind: sorted({*_NUMERIC, *_TO_TEXT, _C.SQL_CONVERT_BIT}) for kind in _NUMERIC},
    _C.SQL_CONVERT_BIT: sorted({*_NUMERIC, *_TO_TEXT, _C.SQL_CONVERT_BIT}),
    _C.SQL_CONVERT_VARCHAR: sorted(
        {*_NUMERIC, *_TO_TEXT, _C.SQL_CONVERT_BIT, _C.SQL_CONVERT_DATE, _C.SQL_CONVERT_TIMESTAMP}
    ),
    _C.SQL_CONVERT_DATE: sorted({*_TO_TEXT, _C.SQL_CONVERT_DATE, _C.SQL_CONVERT_TIMESTAMP}),
    _C.SQL_CONVERT_TIMESTAMP: sorted(
        {*_TO_TEXT, _C.SQL_CONVERT_DATE, _C.SQL_CONVERT_TIMESTAMP, _C.SQL_CONVERT_BIGINT}
    ),
}

# The rest of what JDBC's DatabaseMetaData asks. Limits of 0 mean "no known
# limit", as JDBC defines them. Substrait versions are left out: Substrait is
# not supported.
SQL_INFO.update(
    {
        _I.SQL_KEYWORDS: sorted(
            [
                "ARRAY",
                "DATE_BIN",
                "EXPLAIN",
                "FILTER",
                "ILIKE",
                "LIMIT",
                "OFFSET",
                "QUALIFY",
                "REGEXP",
                "SHOW",
                "STRUCT",
                "TIMESTAMPTZ",
                "UNNEST",
                "WINDOW",
            ]
        ),
        _I.SQL_NUMERIC_FUNCTIONS: sorted(
            [
                "abs",
                "acos",
                "asin",
                "atan",
                "atan2",
                "cbrt",
                "ceil",
                "cos",
                "degrees",
                "exp",
                "floor",
                "ln",
                "log",
                "log10",
                "log2",
                "pi",
                "power",
                "radians",
                "random",
                "round",
                "signum",
                "sin",
                "sqrt",
                "tan",
                "trunc",
            ]
        ),
        _I.SQL_STRING_FUNCTIONS: sorted(
            [
                "ascii",
                "btrim",
                "char_length",
                "concat",
                "concat_ws",
                "left",
                "length",
                "lower",
                "lpad",
                "ltrim",
                "regexp_like",
                "regexp_match",
                "regexp_replace",
                "repeat",
                "replace",
                "reverse",
                "right",
                "rpad",
                "rtrim",
                "split_part",
                "starts_with",
                "strpos",
                "substr",
                "substring",
                "to_hex",
                "translate",
                "trim",
                "upper",
            ]
        ),
        _I.SQL_SYSTEM_FUNCTIONS: ["arrow_typeof", "coalesce", "nullif", "version"],
        _I.SQL_DATETIME_FUNCTIONS: sorted(
            [
                "current_date",
                "current_time",
                "date_bin",
                "date_part",
                "date_trunc",
                "extract",
                "from_unixtime",
                "now",
                "to_char",
                "to_date",
                "to_timestamp",
                "to_timestamp_micros",
                "to_timestamp_millis",
                "to_timestamp_nanos",
                "to_timestamp_seconds",
                "to_unixtime",
            ]
        ),
        _I.SQL_SEARCH_STRING_ESCAPE: "\\",
        _I.SQL_EXTRA_NAME_CHARACTERS: "",
        _I.SQL_SUPPORTS_CONVERT: _CONVERSIONS,
        _I.SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE: True,
        _I.SQL_SUPPORTED_GRAMMAR: (1 << pb.SQL_MINIMUM_GRAMMAR) | (1 << pb.SQL_CORE_GRAMMAR),
        _I.SQL_ANSI92_SUPPORTED_LEVEL: 1 << pb.ANSI92_ENTRY_SQL,
        _I.SQL_SUPPORTS_INTEGRITY_ENHANCEMENT_FACILITY: False,
        _I.SQL_PROCEDURE_TERM: "procedure",
        _I.SQL_SCHEMAS_SUPPORTED_ACTIONS: 0,
        _I.SQL_CATALOGS_SUPPORTED_ACTIONS: 0,
        _I.SQL_SUPPORTED_POSITIONED_COMMANDS: 0,
        _I.SQL_MAX_BINARY_LITERAL_LENGTH: BigInt(0),
        _I.SQL_MAX_CHAR_LITERAL_LENGTH: BigInt(0),
        _I.SQL_MAX_COLUMN_NAME_LENGTH: BigInt(0),
        _I.SQL_MAX_COLUMNS_IN_GROUP_BY: BigInt(0),
        _I.SQL_MAX_COLUMNS_IN_INDEX: BigInt(0),
        _I.SQL_MAX_COLUMNS_IN_ORDER_BY: BigInt(0),
        _I.SQL_MAX_COLUMNS_IN_SELECT: BigInt(0),
        _I.SQL_MAX_COLUMNS_IN_TABLE: BigInt(0),
        _I.SQL_MAX_CONNECTIONS: BigInt(0),
        _I.SQL_MAX_CURSOR_NAME_LENGTH: BigInt(0),
        _I.SQL_MAX_INDEX_LENGTH: BigInt(0),
        _I.SQL_DB_SCHEMA_NAME_LENGTH: BigInt(0),
        _I.SQL_MAX_PROCEDURE_NAME_LENGTH: BigInt(0),
        _I.SQL_MAX_CATALOG_NAME_LENGTH: BigInt(64),  # database names: 1-64 characters
        _I.SQL_MAX_ROW_SIZE: BigInt(0),
        _I.SQL_MAX_ROW_SIZE_INCLUDES_BLOBS: False,
        _I.SQL_MAX_STATEMENT_LENGTH: BigInt(0),
        _I.SQL_MAX_STATEMENTS: BigInt(0),
        _I.SQL_MAX_TABLE_NAME_LENGTH: BigInt(0),
        _I.SQL_MAX_TABLES_IN_SELECT: BigInt(0),
        _I.SQL_MAX_USERNAME_LENGTH: BigInt(0),
        _I.SQL_DEFAULT_TRANSACTION_ISOLATION: pb.SQL_TRANSACTION_NONE,
        _I.SQL_SUPPORTED_TRANSACTIONS_ISOLATION_LEVELS: 1 << pb.SQL_TRANSACTION_NONE,
        _I.SQL_DATA_DEFINITION_CAUSES_TRANSACTION_COMMIT: False,
        _I.SQL_DATA_DEFINITIONS_IN_TRANSACTIONS_IGNORED: False,
        _I.SQL_SUPPORTED_RESULT_SET_TYPES: 1 << pb.SQL_RESULT_SET_TYPE_FORWARD_ONLY,
        _I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_UNSPECIFIED: 0,
        _I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_FORWARD_ONLY: (
            1 << pb.SQL_RESULT_SET_CONCURRENCY_READ_ONLY
        ),
        _I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_SENSITIVE: 0,
        _I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_INSENSITIVE: 0,
    }
)


def _type_code(value: SqlInfoValue) -> int:
    # bool before int: bool is a subclass of int.
    if isinstance(value, str):
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, BigInt):
        return 2
    if isinstance(value, int):
        return 3
    if isinstance(value, list):
        return 4
    if isinstance(value, dict):
        return 5
    raise TypeError(f"no GetSqlInfo union slot for {type(value).__name__}")


def encode_values(values: Iterable[SqlInfoValue]) -> pa.Array:
    """The dense-union array of ``values``, of exactly ``SQL_INFO_VALUE_TYPE``."""
    union_type = schemas.SQL_INFO_VALUE_TYPE
    children: list[list[object]] = [[] for _ in range(union_type.num_fields)]
    type_ids: list[int] = []
    offsets: list[int] = []
    for value in values:
        code = _type_code(value)
        type_ids.append(code)
        offsets.append(len(children[code]))
        children[code].append(list(value.items()) if isinstance(value, dict) else value)
    child_arrays = [
        pa.array(items, type=union_type.field(i).type) for i, items in enumerate(children)
    ]
    # from_buffers, not UnionArray.from_dense: only it keeps the exact child
    # fields (non-nullable) of the canonical union type.
    type_buffer = pa.array(type_ids, pa.int8()).buffers()[1]
    offset_buffer = pa.array(offsets, pa.int32()).buffers()[1]
    return pa.Array.from_buffers(
        union_type, len(type_ids), [None, type_buffer, offset_buffer], children=child_arrays
    )


def sql_info_table(
    requested: Iterable[int], info: Mapping[int, SqlInfoValue] = SQL_INFO
) -> pa.Table:
    """Rows for the requested ids that have an answer (all of them when none are asked)."""
    ids = list(requested) or sorted(info)
    known = [info_id for info_id in ids if info_id in info]
    names = pa.array(known, pa.uint32())
    values = encode_values(info[info_id] for info_id in known)
    return pa.Table.from_arrays([names, values], schema=schemas.SQL_INFO)


def get_sql_info_flight_info(call: Call, command: AnyType) -> FlightInfoResult:
    """The ticket of GetSqlInfo is the command itself."""
    return FlightInfoResult(schemas.SQL_INFO, pack(command))


def get_sql_info(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """Stream the requested SqlInfo rows."""
    table = sql_info_table(command.info)
    return pa.RecordBatchReader.from_batches(schemas.SQL_INFO, table.to_batches())


COMMANDS = [CommandHandler(pb.CommandGetSqlInfo, get_sql_info_flight_info, get_sql_info)]
