"""Run a shaped SELECT against one source: DataFusion SQL first, then Arrow to finish.

Raw queries compile to one ``SELECT ... ORDER BY tags, time``. Aggregate
queries compile to one grouped SQL query whose columns are the aggregate
"slots"; gap filling, selector times, percentiles and transformations are then
done on the small aggregated result with Arrow and numpy, and arithmetic over
aggregates (``sum(a) / sum(b)``) runs as a second SQL projection over it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import RowCompiler, TableInfo, Typed, quote_ident, unwrap
from flight_iox.influxql.fill import TIME_KEY
from flight_iox.influxql.functions import TRANSFORMS
from flight_iox.influxql.result import Series
from flight_iox.influxql.select_plan import AGGREGATE, TOP, SelectShape, source_group_tags
from flight_iox.influxql.series import group_ids, limit_mask, slices
from flight_iox.influxql.timerange import TimeRange
from flight_iox.influxql.transforms import apply_transform
from flight_iox.influxql.tz import DAY, LOWEST, Offsets, offsets

TIME = quote_ident("time")


@dataclass(frozen=True)
class Source:
    """Something to select from: a name for its series, its schema, and how to run SQL on it."""

    name: str
    info: TableInfo
    ref: str
    run: Callable[[str], pa.Table]


@dataclass
class Query:
    """Everything one source's query needs."""

    stmt: ast.SelectStatement
    shape: SelectShape
    source: Source
    now: int
    where: str
    time_range: TimeRange
    groups: list[str] = field(default_factory=list)
    visible_from: int | None = None  # rows before this were only read to feed transforms
    zone: str | None = None  # tz('...'): GROUP BY time buckets are aligned in this zone


def zone_offsets(query: Query) -> Offsets | None:
    """The tz() zone's offsets over the query's range (None without tz() or GROUP BY time)."""
    if query.zone is None or query.shape.time_group is None:
        return None
    lower = query.time_range.lower if query.time_range.lower is not None else LOWEST
    upper = query.time_range.upper if query.time_range.upper is not None else query.now
    upper = max(upper, lower)
    return offsets(query.zone, lower // DAY * DAY, upper // DAY * DAY + DAY)


def bin_sql(query: Query) -> str | None:
    """The SQL of a row's ``GROUP BY time`` bucket (a local wall time under tz())."""
    grouping = query.shape.time_group
    if grouping is None:
        return None
    steps = zone_offsets(query)
    time = TIME if steps is None else f"({TIME} + {steps.sql(TIME)})"
    return (
        f"date_bin(INTERVAL '{grouping.interval} nanoseconds', {time}, "
        f"to_timestamp_nanos({grouping.offset}))"
    )


def buckets_to_utc(query: Query, table: pa.Table) -> pa.Table:
    """Turn the local bucket starts of a tz() query back into UTC instants."""
    steps = zone_offsets(query)
    if steps is None or table.num_rows == 0:
        return table
    local = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
    utc = pa.array(steps.to_utc(local)).cast(pa.timestamp("ns"))
    return table.set_column(table.schema.get_field_index(TIME_KEY), TIME_KEY, utc)


def group_select(query: Query) -> list[str]:
    out = []
    for i, tag in enumerate(query.groups):
        column = quote_ident(tag) if tag in query.source.info.tags else "CAST(NULL AS VARCHAR)"
        out.append(f"{column} AS {quote_ident(f'__g{i}')}")
    return out


def group_keys(query: Query) -> list[str]:
    return [f"__g{i}" for i in range(len(query.groups))]


def transform_args(call: ast.Call, default_unit: int | None = None) -> list[int]:
    """The duration/number arguments of a transform (a derivative's unit defaults to
    ``default_unit``: the GROUP BY interval when it differentiates an aggregate)."""
    args = []
    for arg in call.args[1:]:
        arg = unwrap(arg)
        if isinstance(arg, ast.DurationLit):
            args.append(arg.nanos)
        elif isinstance(arg, ast.NumberLit):
            args.append(int(arg.value))
        else:
            raise QueryError(f"invalid argument to {call.name}()")
    if not args and default_unit and call.name.endswith("derivative"):
        args.append(default_unit)
    return args


def run_source(query: Query) -> list[Series]:
    """The series one source contributes."""
    query.groups = source_group_tags(query.shape, query.source.info)
    if query.shape.mode == AGGREGATE:
        return _aggregate(query)
    if query.shape.mode == TOP:
        from flight_iox.influxql.select_top import run_top

        return run_top(query)
    return _raw(query)


# --- raw queries -------------------------------------------------------------------------


def _raw(query: Query) -> list[Series]:
    compiler = RowCompiler(query.source.info, query.now)
    outputs: list[tuple[Typed, ast.Call | None]] = []
    for f in query.shape.fields:
        expr = unwrap(f.expr)
        if isinstance(expr, ast.Call) and expr.name in TRANSFORMS:
            outputs.append((compiler.value(expr.args[0]), expr))
        else:
            outputs.append((compiler.value(expr), None))
    valued = [f"__c{i}" for i, (t, _) in enumerate(outputs) if t.type not in (None, "tag")]
    if not valued:
        return []
    columns = [f"{TIME} AS {quote_ident(TIME_KEY)}", *group_select(query)]
    columns += [f"{t.sql} AS {quote_ident(f'__c{i}')}" for i, (t, _) in enumerate(outputs)]
    not_null = " OR ".join(f"{outputs[int(c[3:])][0].sql} IS NOT NULL" for c in valued)
    transforms = any(call is not None for _, call in outputs)
    descending = query.stmt.descending and not transforms
    order = [quote_ident(k) for k in group_keys(query)] + [
        f"{quote_ident(TIME_KEY)} {'DESC' if descending else 'ASC'}"
    ]
    # Points at the same time come in series-key order, as InfluxDB 1.x merges series.
    others = sorted(query.source.info.tags - set(query.groups))
    order += [f"{quote_ident(t)} ASC NULLS FIRST" for t in others]
    sql = (
        f"SELECT {', '.join(columns)} FROM {query.source.ref} "
        f"WHERE ({query.where}) AND ({not_null}) ORDER BY {', '.join(order)}"
    )
    pushed = not query.groups and not transforms
    if pushed and query.stmt.limit:
        sql += f" LIMIT {query.stmt.limit}"
    if pushed and query.stmt.offset:
        sql += f" OFFSET {query.stmt.offset}"
    if query.groups and query.stmt.limit and not transforms:
        sql = _ranked_sql(query, columns, f"({query.where}) AND ({not_null})", descending, others)
    table = query.source.run(sql)
    keys = group_keys(query)
    ids = group_ids(table, keys)
    if transforms:
        times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
        for i, (_, call) in enumerate(outputs):
            if call is not None:
                column = table.column(f"__c{i}").combine_chunks()
                result = apply_transform(call.name, column, ids, times, transform_args(call))
                table = table.set_column(table.schema.get_field_index(f"__c{i}"), f"__c{i}", result)
        table, ids = drop_empty_rows(table, ids, [f"__c{i}" for i in range(len(outputs))])
        if query.stmt.descending:
            table, ids = reverse_within(table, ids)
    if not pushed:
        mask = limit_mask(ids, query.stmt.limit, query.stmt.offset)
        if mask is not None:
            table, ids = table.filter(pa.array(mask)), ids[mask]
    return to_series(query, table, ids, [f"__c{i}" for i in range(len(outputs))])


def _ranked_sql(
    query: Query, columns: list[str], where: str, descending: bool, others: list[str]
) -> str:
    """A raw SELECT with LIMIT per series: only the rows a series' LIMIT/OFFSET can keep.

    ``RANK()`` over each group's times (cheaper than ordering by time and the series key)
    keeps every row tied with the last one kept, so cutting the sorted rows per series
    afterwards gives exactly what a full scan would.
    """
    tags = [quote_ident(t) for t in query.groups if t in query.source.info.tags]
    direction = "DESC" if descending else "ASC"
    over = (f"PARTITION BY {', '.join(tags)} " if tags else "") + f"ORDER BY {TIME} {direction}"
    extra = [f"{quote_ident(t)} AS {quote_ident(f'__o{i}')}" for i, t in enumerate(others)]
    inner = (
        f"SELECT {', '.join([*columns, *extra])}, RANK() OVER ({over}) AS __rank "
        f"FROM {query.source.ref} WHERE {where}"
    )
    order = [quote_ident(k) for k in group_keys(query)] + [f"{quote_ident(TIME_KEY)} {direction}"]
    order += [f"{quote_ident(f'__o{i}')} ASC NULLS FIRST" for i in range(len(others))]
    last = query.stmt.offset + query.stmt.limit
    return f"SELECT * FROM ({inner}) WHERE __rank <= {last} ORDER BY {', '.join(order)}"


def drop_empty_rows(
    table: pa.Table, ids: np.ndarray, columns: list[str]
) -> tuple[pa.Table, np.ndarray]:
    keep = np.zeros(table.num_rows, dtype=bool)
    for name in columns:
        keep |= table.column(name).is_valid().to_numpy(zero_copy_only=False)
    if keep.all():
        return table, ids
    return table.filter(pa.array(keep)), ids[keep]


def reverse_within(table: pa.Table, ids: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    order = np.lexsort((-np.arange(ids.size), ids))
    return table.take(pa.array(order)), ids[order]


def to_series(query: Query, table: pa.Table, ids: np.ndarray, columns: list[str]) -> list[Series]:
    names = [query.shape.time_name, *query.shape.names]
    data = table.select([TIME_KEY, *columns])
    data = data.rename_columns([f"c{i}" for i in range(len(columns) + 1)])
    keys = group_keys(query)
    out = []
    for start, length in slices(ids):
        tags = {}
        for tag, key in zip(query.groups, keys, strict=True):
            value = table.column(key)[start].as_py()
            tags[tag] = "" if value is None else str(value)
        out.append(Series(query.source.name, tags, names, data.slice(start, length), data, start))
    return out


def _aggregate(query: Query) -> list[Series]:
    from flight_iox.influxql.select_agg import run_aggregate

    return run_aggregate(query)
