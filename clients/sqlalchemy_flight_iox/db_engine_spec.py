"""Apache Superset's engine spec for ``flight_iox://`` databases.

Superset finds it through the ``superset.db_engine_specs`` entry point of this package, so
only Superset imports this module (nothing else here imports Superset). It gives Superset
what it cannot guess from the dialect: the time grains as DataFusion SQL (``time_grains.py``),
datetime literals for time filters, Unix-epoch columns, and SQL type names for the Arrow types
in a cursor's description, so SQL Lab and charts see ``time`` as a datetime column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import exc
from superset.db_engine_specs.base import BaseEngineSpec, DatabaseCategory

from sqlalchemy_flight_iox.base import FlightIoxDialect
from sqlalchemy_flight_iox.time_grains import EPOCH_MILLISECONDS, EPOCH_SECONDS, TIME_GRAINS
from sqlalchemy_flight_iox.types import sqlalchemy_type

_DIALECT = FlightIoxDialect()


class FlightIoxEngineSpec(BaseEngineSpec):
    """flight-iox: DataFusion SQL over Flight SQL, tables in schema ``iox``."""

    engine = "flight_iox"
    engine_name = "flight-iox"
    engine_aliases = {"flight_iox"}
    drivers = {"adbc": "flight-iox ADBC driver (Flight SQL)"}
    default_driver = "adbc"
    sqlalchemy_uri_placeholder = "flight_iox://[:token@]host[:port]/database"

    _time_grain_expressions = dict(TIME_GRAINS)
    # DataFusion takes ORDER BY and GROUP BY of a SELECT's aliases and of its expressions.
    allows_alias_in_select = True
    allows_alias_in_orderby = True
    allows_joins = True
    allows_subqueries = True

    metadata = {
        "description": (
            "flight-iox is a time-series database on Apache Arrow: InfluxDB line protocol "
            "in, SQL (DataFusion) and InfluxQL out over Flight SQL and HTTP."
        ),
        "categories": [DatabaseCategory.TIME_SERIES, DatabaseCategory.OPEN_SOURCE],
        "pypi_packages": ["sqlalchemy-flight-iox", "adbc-driver-flight-iox"],
        "connection_string": "flight_iox://[:token@]host[:port]/database",
        "default_port": 8182,
    }

    @classmethod
    def epoch_to_dttm(cls) -> str:
        """A column of Unix seconds as a timestamp."""
        return EPOCH_SECONDS

    @classmethod
    def epoch_ms_to_dttm(cls) -> str:
        """A column of Unix milliseconds as a timestamp."""
        return EPOCH_MILLISECONDS

    @classmethod
    def convert_dttm(
        cls, target_type: str, dttm: datetime, db_extra: dict[str, Any] | None = None
    ) -> str | None:
        """A time filter's bound as a typed literal DataFusion compares with ``time``."""
        kind = target_type.upper()
        if kind.startswith("TIMESTAMP") or kind.startswith("DATETIME"):
            return f"CAST('{dttm.isoformat(timespec='microseconds')}' AS TIMESTAMP)"
        if kind.startswith("DATE"):
            return f"CAST('{dttm.date().isoformat()}' AS DATE)"
        return None

    @classmethod
    def get_datatype(cls, type_code: Any) -> str | None:
        """The SQL type name of an Arrow type from a cursor's description (``TIMESTAMP``)."""
        if isinstance(type_code, pa.DataType):
            try:
                return str(sqlalchemy_type(type_code).compile(dialect=_DIALECT)).upper()
            except exc.CompileError:  # NullType and other types without SQL
                return None
        result: str | None = super().get_datatype(type_code)
        return result
