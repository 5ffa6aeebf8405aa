"""ADBC driver for flight-iox, wrapping adbc_driver_flightsql (to come)."""
