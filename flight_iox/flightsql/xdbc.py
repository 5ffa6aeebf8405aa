"""GetXdbcTypeInfo: the SQL types flight-iox's SQL understands, as JDBC/ODBC describe them.

``data_type`` codes are ``java.sql.Types``; rows are ordered by ``data_type``
then name, as JDBC's ``getTypeInfo`` orders them. Table columns only ever use
BOOLEAN, BIGINT, BIGINT UNSIGNED, DOUBLE, VARCHAR and TIMESTAMP; the others are
types queries can produce or cast to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any as AnyType

import pyarrow as pa

from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import Call, CommandHandler
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.metadata import metadata_info, reader

_NULLABLE = 1  # java.sql.DatabaseMetaData.typeNullable
_SEARCHABLE = 3  # typeSearchable: any WHERE clause


@dataclass(frozen=True)
class XdbcType:
    """One row of GetXdbcTypeInfo (the columns that differ between types)."""

    type_name: str
    data_type: int
    column_size: int | None = None
    literal_prefix: str | None = None
    literal_suffix: str | None = None
    case_sensitive: bool = False
    unsigned: bool | None = None
    fixed_prec_scale: bool = False
    minimum_scale: int | None = None
    maximum_scale: int | None = None
    num_prec_radix: int | None = None
    create_params: tuple[str, ...] | None = None
    datetime_subcode: int | None = None


XDBC_TYPES = sorted(
    [
        XdbcType(
            "DECIMAL", 3, 38, None, None, False, False, True, 0, 38, 10, ("precision", "scale")
        ),
        XdbcType("INTEGER", 4, 10, unsigned=False, num_prec_radix=10),
        XdbcType("SMALLINT", 5, 5, unsigned=False, num_prec_radix=10),
        XdbcType("REAL", 7, 24, unsigned=False, num_prec_radix=2),
        XdbcType("DOUBLE", 8, 53, unsigned=False, num_prec_radix=2),
        XdbcType("VARCHAR", 12, None, "'", "'", case_sensitive=True),
        XdbcType("BOOLEAN", 16, 1),
        XdbcType("BIGINT", -5, 19, unsigned=False, num_prec_radix=10),
        XdbcType("BIGINT UNSIGNED", -5, 20, unsigned=True, num_prec_radix=10),
        XdbcType("TINYINT", -6, 3, unsigned=False, num_prec_radix=10),
        XdbcType("VARBINARY", -3, None, "X'", "'"),
        XdbcType("DATE", 91, 10, "DATE '", "'", datetime_subcode=1),
        XdbcType("TIME", 92, 18, "TIME '", "'", datetime_subcode=2),
        XdbcType(
            "TIMESTAMP",
            93,
            29,
            "TIMESTAMP '",
            "'",
            minimum_scale=0,
            maximum_scale=9,
            datetime_subcode=3,
        ),
    ],
    key=lambda t: (t.data_type, t.type_name),
)


def get_xdbc_type_info(call: Call, command: AnyType) -> pa.RecordBatchReader:
    """Every type, or those of the ``data_type`` asked for."""
    wanted = command.data_type if command.HasField("data_type") else None
    rows = [t for t in XDBC_TYPES if wanted is None or t.data_type == wanted]
    return reader(
        schemas.XDBC_TYPE_INFO,
        {
            "type_name": [t.type_name for t in rows],
            "data_type": [t.data_type for t in rows],
            "column_size": [t.column_size for t in rows],
            "literal_prefix": [t.literal_prefix for t in rows],
            "literal_suffix": [t.literal_suffix for t in rows],
            "create_params": [list(t.create_params) if t.create_params else None for t in rows],
            "nullable": [_NULLABLE] * len(rows),
            "case_sensitive": [t.case_sensitive for t in rows],
            "searchable": [_SEARCHABLE] * len(rows),
            "unsigned_attribute": [t.unsigned for t in rows],
            "fixed_prec_scale": [t.fixed_prec_scale for t in rows],
            "auto_increment": [False if t.num_prec_radix == 10 else None for t in rows],
            "local_type_name": [t.type_name for t in rows],
            "minimum_scale": [t.minimum_scale for t in rows],
            "maximum_scale": [t.maximum_scale for t in rows],
            "sql_data_type": [t.data_type for t in rows],
            "datetime_subcode": [t.datetime_subcode for t in rows],
            "num_prec_radix": [t.num_prec_radix for t in rows],
            "interval_precision": [None] * len(rows),
        },
    )


COMMANDS = [
    CommandHandler(
        pb.CommandGetXdbcTypeInfo, metadata_info(schemas.XDBC_TYPE_INFO), get_xdbc_type_info
    )
]
