"""DB-API 2.0 for flight-iox: ``adbc_driver_flightsql``'s, connected the flight-iox way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import adbc_driver_flightsql
from adbc_driver_manager import AdbcConnection
from adbc_driver_manager.dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,
    apilevel,
    threadsafety,
)

from adbc_driver_flight_iox._cursor import Connection, Cursor
from adbc_driver_flight_iox._options import (
    DEFAULT_URI,
    Certificates,
    check_connection_options,
    database_options,
)

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]

paramstyle = "qmark"


def connect(
    uri: str = DEFAULT_URI,
    *,
    database: str | None,
    token: str | None = None,
    tls_root_certs: Certificates | None = None,
    tls_skip_verify: bool = False,
    tls_override_hostname: str | None = None,
    db_kwargs: Mapping[str, str] | None = None,
    conn_kwargs: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Connection:
    """Connect to flight-iox over Flight SQL (``grpc://`` or ``grpc+tls://``).

    ``database`` becomes the ``database`` header (sent once per call), ``token``
    a Bearer ``authorization`` header. The connection is in autocommit mode:
    flight-iox has no transactions. ``db_kwargs``/``conn_kwargs`` add driver
    options; other keyword arguments go to ``adbc_driver_manager.dbapi.Connection``.
    Cursors run queries without parameters directly (GetFlightInfo + DoGet, see
    ``Cursor``); queries with parameters are prepared.
    """
    options = database_options(
        database=database,
        token=token,
        tls_root_certs=tls_root_certs,
        tls_skip_verify=tls_skip_verify,
        tls_override_hostname=tls_override_hostname,
        extra=db_kwargs,
    )
    db = adbc_driver_flightsql.connect(uri, db_kwargs=options)
    try:
        conn = AdbcConnection(db, **check_connection_options(conn_kwargs))
    except Exception:
        db.close()
        raise
    try:
        return Connection(db, conn, autocommit=True, **kwargs)
    except Exception:
        conn.close()
        db.close()
        raise
