"""DataFusion's time functions as typed SQLAlchemy functions.

``func.date_bin(...)`` works without these. These (also ``func.iox.date_bin``)
give the result a ``DateTime`` type and turn a ``timedelta`` stride into the
interval text DataFusion expects, still sent as a bound parameter. They are
registered under the ``iox`` package so other dialects' ``func.date_bin`` is
left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.sql.elements import ColumnElement

from sqlalchemy_flight_iox.compat import GenericFunction


def interval_text(stride: timedelta) -> str:
    """``timedelta(minutes=5)`` as ``'300000000 microseconds'``, exact to the microsecond."""
    return f"{stride // timedelta(microseconds=1)} microseconds"


def _stride(value: Any) -> Any:
    return interval_text(value) if isinstance(value, timedelta) else value


class date_bin(GenericFunction):
    """``date_bin(stride, source[, origin])``: the start of the bin each time falls in.

    ``stride`` is a ``timedelta``, interval text such as ``'5 minutes'``, or a SQL
    expression. To group by the bin, group by its label (``GROUP BY bin``): two
    renderings of the expression carry two separate binds, which the planner
    cannot match.
    """

    type = sqltypes.DateTime()
    package = "iox"
    inherit_cache = True

    def __init__(self, stride: Any, source: Any, *origin: Any, **kwargs: Any) -> None:
        super().__init__(_stride(stride), source, *origin, **kwargs)


class date_trunc(GenericFunction):
    """``date_trunc(part, source)``: ``source`` truncated to ``'minute'``, ``'hour'``, ..."""

    type = sqltypes.DateTime()
    package = "iox"
    inherit_cache = True

    def __init__(self, part: str | ColumnElement[Any], source: Any, **kwargs: Any) -> None:
        super().__init__(part, source, **kwargs)
