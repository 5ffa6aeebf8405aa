"""ADBC driver for flight-iox: ``adbc_driver_flightsql`` with flight-iox's database,
token and TLS settings applied once, in the right place.

>>> from adbc_driver_flight_iox import dbapi
>>> conn = dbapi.connect("grpc://127.0.0.1:8182", database="mydb")  # doctest: +SKIP
"""

from __future__ import annotations

from adbc_driver_flight_iox._options import DEFAULT_URI, DatabaseOptions, database_options
from adbc_driver_flight_iox.dbapi import connect

__all__ = ["DEFAULT_URI", "DatabaseOptions", "connect", "database_options"]
