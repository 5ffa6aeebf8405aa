"""Message classes generated from ``../proto/FlightSql.proto`` (do not edit).

Regenerate with ``python -m flight_iox.flightsql.generate``.
"""
