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
    DatabaseOptions,
    check_connection_options,
    database_options,
)
from adbc_driver_flight_iox.uri import is_flight_iox_uri, parse_uri

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
    database: str | None = None,
    token: str | None = None,
    tls_root_certs: Certificates | None = None,
    tls_skip_verify: bool = False,
    tls_override_hostname: str | None = None,
    db_kwargs: Mapping[str, str] | None = None,
    conn_kwargs: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Connection:
    """Connect to flight-iox over Flight SQL (``grpc://``, ``grpc+tls://`` or ``flight_iox://``).

    A ``flight_iox://[:token@]host[:port]/database[?tls=true&...]`` URI carries the
    database, token and TLS settings itself (what Polars' ``read_database_uri`` passes);
    a keyword argument may repeat one of them but not contradict it.

    ``database`` becomes the ``database`` header (sent once per call), ``token``
    a Bearer ``authorization`` header. The connection is in autocommit mode:
    flight-iox has no transactions. ``db_kwargs``/``conn_kwargs`` add driver
    options; other keyword arguments go to ``adbc_driver_manager.dbapi.Connection``.
    Cursors run queries without parameters directly (GetFlightInfo + DoGet, see
    ``Cursor``); queries with parameters are prepared.
    """
    given: dict[str, Any] = {
        "database": database,
        "token": token,
        "tls_root_certs": tls_root_certs,
        "tls_skip_verify": tls_skip_verify,
        "tls_override_hostname": tls_override_hostname,
    }
    if is_flight_iox_uri(uri):
        uri, from_uri = parse_uri(uri)
        given = _merge(given, from_uri)
    options = database_options(**given, extra=db_kwargs)
    db = adbc_driver_flightsql.connect(uri, db_kwargs=options)
    try:
        conn = AdbcConnection(db, **check_connection_options(conn_kwargs))
    except Exception:
        db.close()
        raise
    try:
        connection = Connection(db, conn, autocommit=True, **kwargs)
    except Exception:
        conn.close()
        db.close()
        raise
    connection.database = options.get(DatabaseOptions.DATABASE.value)
    return connection


def _merge(given: dict[str, Any], from_uri: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments completed from the URI; the two may not disagree."""
    merged = dict(given)
    for key, value in from_uri.items():
        if value in (None, False):
            continue
        if merged.get(key) in (None, False):
            merged[key] = value
        elif merged[key] != value:
            raise ValueError(f"{key} is given twice with different values (URI and argument)")
    return merged
