"""flight-iox: a time-series database server on Apache Arrow."""

__version__ = "0.1.0"
