"""Per-table operations in row order: ``fill``, ``timeShift``, ``tail``, ``top``/``bottom``,
``unique``, ``cumulativeSum``, ``movingAverage``, ``increase`` and the ``to*`` conversions.

Each is one window function (or expression) over the lane's SQL, partitioned by the group
key and ordered as the table's rows are, like ``limit`` and ``difference``.
"""

from __future__ import annotations

from collections.abc import Callable

from flight_iox.flux.aggregates import difference
from flight_iox.flux.interpreter import Call
from flight_iox.flux.plan import Lane, Stream, q
from flight_iox.flux.rowexpr import value_sql
from flight_iox.flux.transforms import limit, sort
from flight_iox.flux.values import Duration

_RUNNING = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def _running_over(lane: Lane, frame: str = _RUNNING) -> str:
    over = lane.partitioned()
    return over[:-1] + f" {frame})"


def fill(call: Call) -> Stream:
    column = str(call.get("column", "_value", (str,)))
    use_previous = call.get("usePrevious", False, (bool,)) is True
    if use_previous == ("value" in call.args):
        raise call.fail("give one of value or usePrevious: true")
    lanes = []
    for lane in call.lanes():
        if column not in lane.columns:
            lanes.append(lane)
            continue
        if use_previous:
            filled = f"last_value({q(column)}) IGNORE NULLS OVER {_running_over(lane)}"
        else:
            filled = f"COALESCE({q(column)}, {value_sql(call.args['value'], call.node.pos)})"
        items = [f"{filled} AS {q(c)}" if c == column else q(c) for c in lane.columns]
        hidden = [q(c) for c, _ in lane.order if c not in lane.columns]
        lanes.append(lane.with_(sql=lane.select([*items, *hidden])))
    return call.stream().with_lanes(lanes)


def time_shift(call: Call) -> Stream:
    shift = call.required("duration", (Duration,))
    assert isinstance(shift, Duration)
    nanos = shift.fixed(call.node.pos)
    columns = call.text_list("columns", ["_start", "_stop", "_time"])
    interval = f"INTERVAL '{nanos} nanoseconds'"
    lanes = []
    for lane in call.lanes():
        items = [f"{q(c)} + {interval} AS {q(c)}" if c in columns else q(c) for c in lane.columns]
        bounds = lane.bounds
        if bounds is not None and {"_start", "_stop"} <= set(columns):
            bounds = (bounds[0] + nanos, bounds[1] + nanos)
        else:
            bounds = None
        lanes.append(lane.with_(sql=lane.select(items), bounds=bounds))
    return call.stream().with_lanes(lanes)


def tail(call: Call) -> Stream:
    n = call.required("n", (int,))
    offset = call.get("offset", 0, (int,))
    assert isinstance(n, int) and isinstance(offset, int)
    lanes = []
    for lane in call.lanes():
        backwards = [f"{q(c)} {'ASC' if d else 'DESC'}" for c, d in lane.order] or ["1"]
        over = lane.partitioned(backwards)
        numbered = lane.select(
            [*lane.projection(), *_hidden(lane), f"row_number() OVER {over} AS __back"]
        )
        where = f"WHERE __back > {offset} AND __back <= {offset + n}"
        lanes.append(lane.with_(sql=f"SELECT * FROM ({numbered}) AS b {where}"))
    return call.stream().with_lanes(lanes)


def _ranked(descending: bool) -> Callable[[Call], Stream]:
    def run(call: Call) -> Stream:
        columns = call.text_list("columns", ["_value"])
        call.args["columns"] = columns
        call.args["desc"] = descending
        call.args["tables"] = sort(call)
        return limit(call)

    return run


def unique(call: Call) -> Stream:
    column = str(call.get("column", "_value", (str,)))
    lanes = []
    for lane in call.lanes():
        keys = [*lane.key_sql(), q(column)]
        order = ", ".join(lane.order_sql()) or "1"
        over = f"(PARTITION BY {', '.join(keys)} ORDER BY {order})"
        numbered = lane.select(
            [*lane.projection(), *_hidden(lane), f"row_number() OVER {over} AS __u"]
        )
        lanes.append(lane.with_(sql=f"SELECT * FROM ({numbered}) AS u WHERE __u = 1"))
    return call.stream().with_lanes(lanes)


def _hidden(lane: Lane) -> list[str]:
    """Order columns that are not visible (``limit``'s row numbers), kept for the order."""
    return [q(c) for c, _ in lane.order if c not in lane.columns]


def cumulative_sum(call: Call) -> Stream:
    columns = call.text_list("columns", ["_value"])
    lanes = []
    for lane in call.lanes():
        over = _running_over(lane)
        items = [
            f"sum({q(c)}) OVER {over} AS {q(c)}" if c in columns else q(c) for c in lane.columns
        ]
        lanes.append(lane.with_(sql=lane.select([*items, *_hidden(lane)])))
    return call.stream().with_lanes(lanes)


def moving_average(call: Call) -> Stream:
    n = call.required("n", (int,))
    assert isinstance(n, int)
    if n <= 0:
        raise call.fail("n must be positive")
    lanes = []
    for lane in call.lanes():
        over = _running_over(lane, f"ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW")
        items = [
            f"avg(CAST({q(c)} AS DOUBLE)) OVER {over} AS {q(c)}" if c == "_value" else q(c)
            for c in lane.columns
        ]
        numbered = lane.select([*items, f"row_number() OVER {lane.partitioned()} AS __m"])
        lanes.append(
            lane.with_(
                sql=f"SELECT * FROM ({numbered}) AS m WHERE __m >= {n}", order=(("__m", False),)
            )
        )
    return call.stream().with_lanes(lanes)


def increase(call: Call) -> Stream:
    """``difference(nonNegative: true)`` then ``cumulativeSum()``, as Flux defines it."""
    call.args["nonNegative"] = True
    call.args["tables"] = difference(call)
    return cumulative_sum(call)


def conversion(sql_type: str) -> Callable[[Call], Stream]:
    """``toFloat()`` and friends: ``_value`` cast."""

    def run(call: Call) -> Stream:
        lanes = []
        for lane in call.lanes():
            items = [
                f"CAST({q(c)} AS {sql_type}) AS {q(c)}" if c == "_value" else q(c)
                for c in lane.columns
            ]
            lanes.append(lane.with_(sql=lane.select([*items, *_hidden(lane)])))
        return call.stream().with_lanes(lanes)

    return run


TABLE_OPS: dict[str, Callable[[Call], Stream]] = {
    "fill": fill,
    "timeShift": time_shift,
    "tail": tail,
    "top": _ranked(True),
    "bottom": _ranked(False),
    "unique": unique,
    "cumulativeSum": cumulative_sum,
    "movingAverage": moving_average,
    "increase": increase,
    "toFloat": conversion("DOUBLE"),
    "toInt": conversion("BIGINT"),
    "toUInt": conversion("BIGINT UNSIGNED"),
    "toString": conversion("VARCHAR"),
    "toBool": conversion("BOOLEAN"),
}
