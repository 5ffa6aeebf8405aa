"""The Arrow Flight SQL service of flight-iox.

``FlightSqlServer`` serves Flight SQL (as the ADBC driver and JDBC speak it)
and the InfluxDB 3 JSON ticket (as the influxdb3 client libraries send it)
over one ``pyarrow.flight`` server, on top of any ``QueryBackend``.
"""

from __future__ import annotations

from flight_iox.flightsql.server import FlightSqlServer
from flight_iox.query.backend import QueryBackend

__all__ = ["FlightSqlServer", "QueryBackend"]
