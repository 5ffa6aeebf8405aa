"""SQLAlchemy 1.4 and 2.x dialect for flight-iox, over the flight-iox ADBC driver.

``sa.create_engine("flight_iox://127.0.0.1:8182/mydb")``; the dialect is
registered under the ``sqlalchemy.dialects`` entry point ``flight_iox``.
"""

from __future__ import annotations

from sqlalchemy_flight_iox.base import FlightIoxDialect, dialect
from sqlalchemy_flight_iox.functions import date_bin, date_trunc
from sqlalchemy_flight_iox.types import UInt64

__all__ = ["FlightIoxDialect", "UInt64", "date_bin", "date_trunc", "dialect"]
