"""SQL over the write buffer (and later the Parquet files) with DataFusion."""

from flight_iox.query.engine import QueryEngine

__all__ = ["QueryEngine"]
