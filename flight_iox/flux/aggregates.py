"""Aggregates, selectors and windows: ``mean``...``last``, ``window``, ``aggregateWindow``,
``derivative``, ``difference`` and ``distinct``, as GROUP BY and window functions.

An aggregate keeps a table's group key columns and one ``_value`` per table; a selector
keeps the whole row it selects. ``aggregateWindow`` bins ``_time`` with ``date_bin`` from
the epoch (Flux's windows are aligned to it too), stamps each window with its stop
(clipped to the range's stop), and with ``createEmpty`` (its default) joins the windows
every table's range holds, so empty ones answer null (``count``: 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flight_iox.flux.interpreter import Call
from flight_iox.flux.plan import Lane, Stream, q, time_sql
from flight_iox.flux.values import Builtin, Duration

MAX_WINDOWS = 1_000_000


@dataclass(frozen=True)
class Aggregate:
    """How a Flux aggregate or selector reads ``_value`` in SQL."""

    name: str
    sql: Callable[[str], str]  # over the value column
    selector: bool = False
    empty: str = "NULL"  # what an empty window answers


_VALUE = q("_value")
_TIME = q("_time")
AGGREGATES: dict[str, Aggregate] = {
    "mean": Aggregate("mean", lambda v: f"avg({v})"),
    "sum": Aggregate("sum", lambda v: f"sum({v})"),
    "count": Aggregate("count", lambda v: f"count({v})", empty="0"),
    "median": Aggregate("median", lambda v: f"median({v})"),
    "spread": Aggregate("spread", lambda v: f"(max({v}) - min({v}))"),
    "stddev": Aggregate("stddev", lambda v: f"stddev_samp({v})"),
    "min": Aggregate("min", lambda v: f"min({v})", selector=True),
    "max": Aggregate("max", lambda v: f"max({v})", selector=True),
    "first": Aggregate(
        "first",
        lambda v: f"first_value({v} ORDER BY {_TIME}) FILTER (WHERE {v} IS NOT NULL)",
        selector=True,
    ),
    "last": Aggregate(
        "last",
        lambda v: f"last_value({v} ORDER BY {_TIME}) FILTER (WHERE {v} IS NOT NULL)",
        selector=True,
    ),
}


def aggregate(name: str) -> Callable[[Call], Stream]:
    """The builtin for one aggregate or selector."""
    agg = AGGREGATES[name]

    def run(call: Call) -> Stream:
        column = call.get("column", "_value", (str,))
        lanes = [
            (_select_rows if agg.selector else _aggregate)(lane, agg, str(column))
            for lane in call.lanes()
        ]
        return call.stream().with_lanes(lanes)

    return run


def _aggregate(lane: Lane, agg: Aggregate, column: str) -> Lane:
    """One row per table: the group key and the aggregate as the value column."""
    keys = lane.key_sql()
    items = [*keys, f"{agg.sql(q(column))} AS {q(column)}"]
    tail = f"GROUP BY {', '.join(keys)}" if keys else "HAVING count(*) > 0"
    columns = (*tuple(c for c in lane.columns if c in lane.key), column)
    return Lane(lane.select(items, tail), columns, lane.key, (), lane.bounds)


def _select_rows(lane: Lane, agg: Aggregate, column: str) -> Lane:
    """The row a selector picks per table (ties: the first in row order)."""
    rows = [f"{q(c)} {'DESC' if d else 'ASC'}" for c, d in lane.order]
    if agg.name == "min":
        ordering = [f"{q(column)} ASC", *rows]
    elif agg.name == "max":
        ordering = [f"{q(column)} DESC", *rows]
    elif agg.name == "first":
        ordering = rows or ["1"]
    else:
        ordering = [f"{q(c)} {'ASC' if d else 'DESC'}" for c, d in lane.order] or ["1"]
    # One hash aggregate taking each column from the chosen row: measured several times
    # faster than numbering every row with a window (a sort per group key) and keeping 1.
    keys = lane.key_sql()
    by = ", ".join(ordering)
    items = [
        q(c) if c in lane.key else f"first_value({q(c)} ORDER BY {by}) AS {q(c)}"
        for c in lane.columns
    ]
    tail = f"WHERE {q(column)} IS NOT NULL"
    tail += f" GROUP BY {', '.join(keys)}" if keys else " HAVING count(*) > 0"
    return lane.with_(sql=lane.select(items, tail), order=())


def _bin(every: int, offset: int) -> str:
    return f"date_bin(INTERVAL '{every} nanoseconds', {_TIME}, {time_sql(offset)})"


def window(call: Call) -> Stream:
    every = _every(call)
    offset = _offset(call)
    if call.get("createEmpty", False) is True:
        raise call.fail("createEmpty: true is supported by aggregateWindow only")
    lanes = []
    for lane in call.lanes():
        start = f"GREATEST({_bin(every, offset)}, {q('_start')})"
        stop = f"LEAST({_bin(every, offset)} + INTERVAL '{every} nanoseconds', {q('_stop')})"
        items = [
            f"{start} AS {q(c)}" if c == "_start" else f"{stop} AS {q(c)}" if c == "_stop" else q(c)
            for c in lane.columns
        ]
        key = lane.key if "_start" in lane.key else ("_start", "_stop", *lane.key)
        lanes.append(Lane(lane.select(items), lane.columns, key, lane.order, None))
    return call.stream().with_lanes(lanes)


def _every(call: Call) -> int:
    every = call.number_of_nanos("every", call.args.get("period"))
    if every <= 0:
        raise call.fail("every must be positive")
    period = call.get("period")
    if isinstance(period, Duration) and period.nanos != every:
        raise call.fail("a period different from every is not supported")
    return every


def _offset(call: Call) -> int:
    offset = call.get("offset", Duration(0), (Duration,))
    assert isinstance(offset, Duration)
    return offset.fixed(call.node.pos)


def aggregate_window(call: Call) -> Stream:
    every = _every(call)
    offset = _offset(call)
    fn = call.required("fn")
    if not isinstance(fn, Builtin) or fn.name not in AGGREGATES:
        raise call.fail(
            f"fn must be one of {', '.join(AGGREGATES)} (a custom function is not supported)"
        )
    agg = AGGREGATES[fn.name]
    column = str(call.get("column", "_value", (str,)))
    if (
        call.get("timeSrc", "_stop") not in ("_stop", "_start")
        or call.get("timeDst", "_time") != "_time"
    ):
        raise call.fail('only timeSrc "_stop"/"_start" and timeDst "_time" are supported')
    stamp_start = call.get("timeSrc", "_stop") == "_start"
    create_empty = call.get("createEmpty", True, (bool,)) is True
    return call.stream().with_lanes(
        _windowed(lane, agg, column, every, offset, create_empty, stamp_start, call)
        for lane in call.lanes()
    )


def _windowed(
    lane: Lane,
    agg: Aggregate,
    column: str,
    every: int,
    offset: int,
    create_empty: bool,
    stamp_start: bool,
    call: Call,
) -> Lane:
    keys = [k for k in lane.key if k != "_time"]
    key_sql = [q(k) for k in keys]
    interval = f"INTERVAL '{every} nanoseconds'"
    value = agg.sql(q(column))
    binned = lane.select(
        [*key_sql, f"{_bin(every, offset)} AS __w", f"{value} AS __v"],
        "GROUP BY " + ", ".join([*key_sql, "__w"]),
    )
    columns = tuple(c for c in lane.columns if c in keys or c in ("_time", column))
    if "_time" not in columns:
        columns = (*columns, "_time")
    if column not in columns:
        columns = (*columns, column)

    def stamp(window: str, group: str) -> str:
        """The window's ``_time``: its stop (or start), clipped to the table's range."""
        if stamp_start:
            return (
                f"GREATEST({window}__w, {group}{q('_start')})"
                if "_start" in keys
                else f"{window}__w"
            )
        stop = f"{window}__w + {interval}"
        return f"LEAST({stop}, {group}{q('_stop')})" if "_stop" in keys else stop

    if not create_empty or lane.bounds is None:
        items = [_item(c, column, stamp("", ""), "__v", "") for c in columns]
        sql = f"SELECT {', '.join(items)} FROM ({binned}) AS b"
        return Lane(sql, columns, tuple(keys), TIME_ASC, lane.bounds)
    start, stop = lane.bounds
    first = start - (start - offset) % every
    if (stop - first) // every > MAX_WINDOWS:
        raise call.fail(f"more than {MAX_WINDOWS} windows of {every}ns in the range")
    starts = f"SELECT unnest(range({first}, {stop}, {every})) AS x"
    windows = f"SELECT to_timestamp_nanos(x) AS __w FROM ({starts}) AS r"
    if keys:
        groups = f"SELECT DISTINCT {', '.join(key_sql)} FROM ({lane.sql}) AS d"
    else:
        groups = f"SELECT 1 AS __one FROM ({lane.sql}) AS d LIMIT 1"
    join = " AND ".join(
        [f"(b.{k} IS NOT DISTINCT FROM g.{k})" for k in key_sql] + ["(b.__w = w.__w)"]
    )
    empty = f"COALESCE(b.__v, {agg.empty})"
    items = [_item(c, column, stamp("w.", "g."), empty, "g.") for c in columns]
    sql = (
        f"SELECT {', '.join(items)} FROM ({groups}) AS g CROSS JOIN ({windows}) AS w "
        f"LEFT JOIN ({binned}) AS b ON {join}"
    )
    return Lane(sql, columns, tuple(keys), TIME_ASC, lane.bounds)


TIME_ASC = (("_time", False),)


def _item(c: str, column: str, time: str, value: str, prefix: str) -> str:
    """One output column of ``aggregateWindow``: the stamped time, the value, or a key."""
    if c == "_time":
        return f"{time} AS {_TIME}"
    if c == column:
        return f"{value} AS {q(c)}"
    return prefix + q(c)


def _lagged(call: Call, expression: Callable[[Lane, str], str], keep_first: bool = False) -> Stream:
    columns = call.text_list("columns", ["_value"])
    lanes = []
    for lane in call.lanes():
        over = lane.partitioned()
        items = [
            expression(lane, q(c)).format(over=over) + f" AS {q(c)}" if c in columns else q(c)
            for c in lane.columns
        ]
        numbered = lane.select([*items, f"row_number() OVER {over} AS __rn"])
        where = "" if keep_first else "WHERE __rn > 1"
        lanes.append(
            lane.with_(sql=f"SELECT * FROM ({numbered}) AS l {where}", order=(("__rn", False),))
        )
    return call.stream().with_lanes(lanes)


def derivative(call: Call) -> Stream:
    unit = call.get("unit", Duration(1_000_000_000), (Duration,))
    assert isinstance(unit, Duration)
    non_negative = call.get("nonNegative", False, (bool,)) is True
    time = q(str(call.get("timeColumn", "_time", (str,))))
    unit_nanos = unit.fixed(call.node.pos)

    def expression(lane: Lane, v: str) -> str:
        dt = f"(CAST({time} AS BIGINT) - lag(CAST({time} AS BIGINT)) OVER {{over}})"
        delta = f"(CAST({v} AS DOUBLE) - lag(CAST({v} AS DOUBLE)) OVER {{over}})"
        rate = f"({delta} * {unit_nanos} / CAST({dt} AS DOUBLE))"
        return f"(CASE WHEN {rate} < 0 THEN NULL ELSE {rate} END)" if non_negative else rate

    return _lagged(call, expression)


def difference(call: Call) -> Stream:
    non_negative = call.get("nonNegative", False, (bool,)) is True
    keep_first = call.get("keepFirst", False, (bool,)) is True

    def expression(lane: Lane, v: str) -> str:
        delta = f"({v} - lag({v}) OVER {{over}})"
        return f"(CASE WHEN {delta} < 0 THEN NULL ELSE {delta} END)" if non_negative else delta

    return _lagged(call, expression, keep_first)


def distinct(call: Call) -> Stream:
    column = str(call.get("column", "_value", (str,)))
    lanes = []
    for lane in call.lanes():
        keys = lane.key_sql()
        if column not in lane.columns:
            raise call.fail(f"no column {column!r}")
        numbered = lane.select(
            [*keys, f"{q(column)} AS __d", f"row_number() OVER {lane.partitioned()} AS __rn"]
        )
        items = [*keys, f"__d AS {_VALUE}", "min(__rn) AS __first"]
        group_by = ", ".join([*keys, "__d"])
        sql = f"SELECT {', '.join(items)} FROM ({numbered}) AS n GROUP BY {group_by}"
        columns = (*tuple(c for c in lane.columns if c in lane.key and c != "_value"), "_value")
        lanes.append(
            Lane(
                sql,
                columns,
                tuple(k for k in lane.key if k != "_value"),
                (("__first", False),),
                lane.bounds,
            )
        )
    return call.stream().with_lanes(lanes)
