"""SQL over the write buffer and the Parquet files with DataFusion.

``QueryEngine`` is loaded on first use, so a light module of this package (the result
encoders in ``formats``, used by ``flight-iox query``) does not bring in DataFusion and
PyIceberg with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flight_iox.query.engine import QueryEngine

__all__ = ["QueryEngine"]


def __getattr__(name: str) -> Any:
    if name == "QueryEngine":
        from flight_iox.query.engine import QueryEngine

        return QueryEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
