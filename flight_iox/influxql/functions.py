"""InfluxQL aggregate and selector functions: a registry from name to its DataFusion SQL.

Each aggregate compiles to one SQL aggregate expression over the grouped rows.
Selectors also say how to find the time of the point they select (and the
other columns of that row, for ``SELECT first(x), y``), as an ordered
``first_value`` over the same rows. Functions that need the values in order
(``percentile``) gather them with an ordered ``array_agg`` and finish in Arrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flight_iox.errors import QueryError
from flight_iox.influxql.expressions import NUMERIC, Typed
from flight_iox.influxql.technical import INDICATORS
from flight_iox.sql_quote import quote_identifier

TIME = quote_identifier("time")


@dataclass(frozen=True)
class Aggregate:
    """How one InfluxQL aggregate compiles.

    ``sql`` builds the aggregate from the compiled argument and the literal
    arguments; ``result`` gives the InfluxQL type of the result from the
    argument's; ``order`` (selectors only) is the ORDER BY that puts the
    selected point first; ``empty`` is the value an empty bucket shows under
    ``fill(null)`` (0 for count).
    """

    sql: Callable[[Typed, list[float]], str]
    result: Callable[[str | None], str | None]
    arity: tuple[int, ...] = (1,)
    order: Callable[[Typed], str] | None = None
    empty: int | None = None
    numeric_only: bool = True
    post: str | None = None  # name of an Arrow finisher (see select_post.FINISHERS)


def _float(_: str | None) -> str:
    return "float"


def _same(kind: str | None) -> str | None:
    return kind


def _filtered(arg: Typed, body: str) -> str:
    return f"{body} FILTER (WHERE {arg.sql} IS NOT NULL)"


def _first_by(order: Callable[[Typed], str]) -> Callable[[Typed, list[float]], str]:
    return lambda arg, _: _filtered(arg, f"first_value({arg.sql} ORDER BY {order(arg)})")


def _time_asc(arg: Typed) -> str:
    # InfluxDB 1.x breaks ties between points at the same time by the larger value.
    return f"{TIME} ASC, {arg.sql} DESC"


def _time_desc(arg: Typed) -> str:
    return f"{TIME} DESC, {arg.sql} DESC"


def _value_desc(arg: Typed) -> str:
    return f"{arg.sql} DESC, {TIME} ASC"


def _value_asc(arg: Typed) -> str:
    return f"{arg.sql} ASC, {TIME} ASC"


AGGREGATES: dict[str, Aggregate] = {
    "count": Aggregate(
        lambda a, _: f"count({a.sql})", lambda _: "integer", empty=0, numeric_only=False
    ),
    "sum": Aggregate(lambda a, _: f"sum({a.sql})", _same),
    "mean": Aggregate(lambda a, _: f"avg(CAST({a.sql} AS DOUBLE))", _float),
    "median": Aggregate(lambda a, _: f"median(CAST({a.sql} AS DOUBLE))", _float),
    "spread": Aggregate(lambda a, _: f"(max({a.sql}) - min({a.sql}))", _same),
    "stddev": Aggregate(lambda a, _: f"stddev(CAST({a.sql} AS DOUBLE))", _float),
    "mode": Aggregate(
        lambda a, _: _filtered(a, f"array_agg({a.sql} ORDER BY {TIME})"),
        _same,
        numeric_only=False,
        post="mode",
    ),
    "first": Aggregate(_first_by(_time_asc), _same, order=_time_asc, numeric_only=False),
    "last": Aggregate(_first_by(_time_desc), _same, order=_time_desc, numeric_only=False),
    "max": Aggregate(lambda a, _: f"max({a.sql})", _same, order=_value_desc),
    "min": Aggregate(lambda a, _: f"min({a.sql})", _same, order=_value_asc),
    # Computed from the raw points after the grouped query (integral.py); a placeholder here.
    "integral": Aggregate(lambda a, _: "CAST(NULL AS DOUBLE)", _float, arity=(1, 2)),
    "percentile": Aggregate(
        lambda a, _: _filtered(a, f"array_agg({a.sql} ORDER BY {a.sql} ASC, {TIME} ASC)"),
        _same,
        arity=(2,),
        order=_value_asc,
        post="percentile",
    ),
}

# Functions that run over a series in order after the query (see transforms.py).
TRANSFORMS = {
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
    *INDICATORS,  # technical analysis (technical.py)
}
SELECTORS = {name for name, spec in AGGREGATES.items() if spec.order is not None}


def aggregate_sql(name: str, arg: Typed, literals: list[float]) -> Typed:
    """The SQL and result type of ``name(arg, literals...)``; a missing column gives NULL."""
    spec = AGGREGATES[name]
    if arg.type is None:
        return Typed("NULL", None)
    if spec.numeric_only and arg.type not in NUMERIC:
        return Typed("NULL", None)
    return Typed(spec.sql(arg, literals), spec.result(arg.type))


def selector_order(name: str, arg: Typed) -> str:
    """ORDER BY that puts the point a selector picks first."""
    spec = AGGREGATES[name]
    if spec.order is None:
        raise QueryError(f"{name}() is not a selector")
    return spec.order(arg)
