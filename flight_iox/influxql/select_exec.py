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

from flight_iox.influxql import ast
from flight_iox.influxql.expressions import RowCompiler, TableInfo, Typed, unwrap
from flight_iox.influxql.fill import TIME_KEY
from flight_iox.influxql.functions import TRANSFORMS
from flight_iox.influxql.projection import SelectList, plain_column, table_columns
from flight_iox.influxql.result import Series
from flight_iox.influxql.select_plan import AGGREGATE, TOP, SelectShape, source_group_tags
from flight_iox.influxql.series import group_ids, limit_mask, order_ties, slices
from flight_iox.influxql.timerange import TimeRange
from flight_iox.influxql.transforms import apply_transform
from flight_iox.influxql.tz import DAY, LOWEST, Offsets, offsets
from flight_iox.query.dictionaries import decoded
from flight_iox.sql_quote import quote_identifier

TIME = quote_identifier("time")


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
    not_null: frozenset[str] = frozenset()  # columns WHERE keeps only non-null rows of


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
        column = quote_identifier(tag) if tag in query.source.info.tags else "CAST(NULL AS VARCHAR)"
        out.append(f"{column} AS {quote_identifier(f'__g{i}')}")
    return out


def group_keys(query: Query) -> list[str]:
    return [f"__g{i}" for i in range(len(query.groups))]


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
    valued = [t for t, _ in outputs if t.type not in (None, "tag")]
    if not valued:
        return []
    select = SelectList(table_columns(query.source.info))
    select.add(TIME_KEY, TIME)
    for key, sql in zip(group_keys(query), _group_sql(query), strict=True):
        select.add(key, sql)
    for i, (typed, _) in enumerate(outputs):
        select.add(f"__c{i}", typed.sql)
    # Points at the same time come in series-key order, as InfluxDB 1.x merges series.
    others = sorted(query.source.info.tags - set(query.groups))
    for i, tag in enumerate(others):
        select.add(f"__o{i}", quote_identifier(tag))
    where = f"({query.where})"
    if not any(plain_column(t.sql) in query.not_null for t in valued):
        # InfluxQL leaves out rows whose selected fields are all null (unless WHERE does).
        where += f" AND ({' OR '.join(f'{t.sql} IS NOT NULL' for t in valued)})"
    transforms = any(call is not None for _, call in outputs)
    descending = query.stmt.descending and not transforms
    direction = "DESC" if descending else "ASC"
    by_time = [*_group_order(query, select), f"{select.ref(TIME_KEY)} {direction}"]
    by_key = [f"{select.ref(f'__o{i}')} ASC NULLS FIRST" for i in range(len(others))]
    pushed = not query.groups and not transforms
    head = f"SELECT {select.sql()} FROM {query.source.ref} WHERE {where}"
    ties_in_arrow = False
    if query.groups and query.stmt.limit and not transforms:
        sql = _per_series_limit_sql(query, select, where, descending, by_time + by_key)
    elif pushed and (query.stmt.limit or query.stmt.offset):
        sql = f"{head} ORDER BY {', '.join(by_time + by_key)}"
        sql += f" LIMIT {query.stmt.limit}" if query.stmt.limit else ""
        sql += f" OFFSET {query.stmt.offset}" if query.stmt.offset else ""
    else:
        # Sorting by time alone plans and runs cheaper; ties are put in order in Arrow.
        sql = f"{head} ORDER BY {', '.join(by_time)}"
        ties_in_arrow = True
    table = select.named(query.source.run(sql))
    ids = group_ids(table, group_keys(query))
    if ties_in_arrow:
        times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
        table = order_ties(table, ids, times, [f"__o{i}" for i in range(len(others))])
    if transforms:
        times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
        for i, (_, call) in enumerate(outputs):
            if call is not None:
                column = table.column(f"__c{i}").combine_chunks()
                result = apply_transform(call, column, ids, times, None, query.stmt.descending)
                table = table.set_column(table.schema.get_field_index(f"__c{i}"), f"__c{i}", result)
        table, ids = drop_empty_rows(table, ids, [f"__c{i}" for i in range(len(outputs))])
        if query.stmt.descending:
            table, ids = reverse_within(table, ids)
    if not pushed:
        mask = limit_mask(ids, query.stmt.limit, query.stmt.offset)
        if mask is not None:
            table, ids = table.filter(pa.array(mask)), ids[mask]
    return to_series(query, table, ids, [f"__c{i}" for i in range(len(outputs))])


def _group_sql(query: Query) -> list[str]:
    """The SQL of each GROUP BY tag (NULL for a tag the source lacks)."""
    tags = query.source.info.tags
    return [quote_identifier(t) if t in tags else "CAST(NULL AS VARCHAR)" for t in query.groups]


def _group_order(query: Query, select: SelectList) -> list[str]:
    """ORDER BY items for the GROUP BY tags (a tag the source lacks is constant)."""
    keys = zip(group_keys(query), query.groups, strict=True)
    return [select.ref(k) for k, tag in keys if tag in query.source.info.tags]


def _per_series_limit_sql(
    query: Query, select: SelectList, where: str, descending: bool, order: list[str]
) -> str:
    """A raw SELECT with LIMIT per series: only the rows a series' LIMIT/OFFSET can keep.

    Every row tied with the last one kept stays, so cutting the sorted rows per series
    afterwards gives exactly what a full scan would. ``LIMIT 1`` (TSBS ``lastpoint``) keeps
    the rows at each group's last (or first) time: a grouped ``max(time)`` joined back, which
    needs no sort of the whole table. Longer limits rank each group's times with ``RANK()``
    (cheaper than ordering by time and the series key).
    """
    tags = [quote_identifier(t) for t in query.groups if t in query.source.info.tags]
    source = query.source.ref
    if query.stmt.limit == 1 and not query.stmt.offset:
        pick = "max" if descending else "min"
        keys = [f"{t} AS {quote_identifier(f'__p{i}')}" for i, t in enumerate(tags)]
        last = (
            f"SELECT {', '.join([*keys, f'{pick}({TIME}) AS __t'])} FROM {source} WHERE {where}"
            + (f" GROUP BY {', '.join(tags)}" if tags else "")
        )
        on = [
            f"({t} IS NOT DISTINCT FROM {quote_identifier(f'__p{i}')})" for i, t in enumerate(tags)
        ]
        on.append(f"({TIME} = __t)")
        return (
            f"SELECT {select.sql()} FROM {source} JOIN ({last}) AS __last "
            f"ON {' AND '.join(on)} WHERE {where} ORDER BY {', '.join(order)}"
        )
    direction = "DESC" if descending else "ASC"
    over = (f"PARTITION BY {', '.join(tags)} " if tags else "") + f"ORDER BY {TIME} {direction}"
    inner = f"SELECT {select.sql()}, RANK() OVER ({over}) AS __rank FROM {source} WHERE {where}"
    rank_limit = query.stmt.offset + query.stmt.limit
    return f"SELECT * FROM ({inner}) WHERE __rank <= {rank_limit} ORDER BY {', '.join(order)}"


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
    bounds = slices(ids)
    starts = pa.array([start for start, _ in bounds], pa.int64())
    values = [
        ["" if v is None else str(v) for v in decoded(table.column(key)).take(starts).to_pylist()]
        for key in group_keys(query)
    ]
    out = []
    for n, (start, length) in enumerate(bounds):
        tags = {tag: column[n] for tag, column in zip(query.groups, values, strict=True)}
        out.append(Series(query.source.name, tags, names, None, data, start, length))
    return out


def _aggregate(query: Query) -> list[Series]:
    from flight_iox.influxql.select_agg import run_aggregate

    return run_aggregate(query)
