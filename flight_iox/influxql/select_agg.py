"""Aggregate SELECTs: one grouped SQL query of aggregate slots, finished in Arrow.

Each distinct aggregate call becomes a slot column of the grouped query. Then,
on the aggregated rows only: list finishers (percentile, mode), the time column
(bucket, selected point or query start), gap filling, transformations and any
arithmetic over slots (a second, tiny SQL projection).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datafusion import SessionContext

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import NUMERIC, RowCompiler, TableInfo, Typed, unwrap
from flight_iox.influxql.fill import TIME_KEY, Grid, gap_fill
from flight_iox.influxql.functions import AGGREGATES, TRANSFORMS, aggregate_sql, selector_order
from flight_iox.influxql.result import Series
from flight_iox.influxql.select_exec import (
    Query,
    bin_sql,
    buckets_to_utc,
    drop_empty_rows,
    group_keys,
    group_select,
    reverse_within,
    to_series,
    zone_offsets,
)
from flight_iox.influxql.select_finish import FINISHERS, percentile_index, take_at
from flight_iox.influxql.series import group_ids, limit_mask
from flight_iox.influxql.transforms import apply_transform
from flight_iox.sql_quote import quote_identifier

TIME = quote_identifier("time")
SECOND = 1_000_000_000


@dataclass
class Slots:
    """The aggregate columns of the grouped SQL, one per distinct call."""

    compiler: RowCompiler
    sql: dict[str, str] = field(default_factory=dict)
    types: dict[str, str | None] = field(default_factory=dict)
    keys: dict[ast.Call, str] = field(default_factory=dict)
    finish: dict[str, tuple[str, list[float]]] = field(default_factory=dict)
    at_selected: list[str] = field(default_factory=list)  # lists taken at percentile's index
    integrals: dict[str, tuple[str, int]] = field(default_factory=dict)  # slot: (value, unit)

    def add(self, sql: str, kind: str | None) -> str:
        """A new slot column."""
        name = f"__s{len(self.sql)}"
        self.sql[name] = sql
        self.types[name] = kind
        return name

    def call(self, call: ast.Call) -> str:
        """The slot of an aggregate call (shared by repeats of the same call)."""
        if call in self.keys:
            return self.keys[call]
        if call.name not in AGGREGATES:
            raise QueryError(f"unsupported function {call.name}() in this position")
        spec = AGGREGATES[call.name]
        if len(call.args) not in spec.arity:
            expected = " or ".join(str(n) for n in spec.arity)
            raise QueryError(
                f"invalid number of arguments for {call.name}, expected {expected}, "
                f"got {len(call.args)}"
            )
        arg = unwrap(call.args[0])
        if call.name == "integral":
            return self._integral(call, arg)
        literals = [_literal(a, call.name) for a in call.args[1:]]
        if isinstance(arg, ast.Call) and arg.name == "distinct" and call.name == "count":
            inner = self.compiler.value(arg.args[0])
            typed = (
                Typed("NULL", None)
                if inner.type is None
                else Typed(f"count(DISTINCT {inner.sql})", "integer")
            )
        elif isinstance(arg, ast.VarRef):
            typed = aggregate_sql(call.name, self.compiler.value(arg), literals)
        else:
            raise QueryError(f"expected field argument in {call.name}()")
        name = self.keys[call] = self.add(typed.sql, typed.type)
        if spec.post and typed.type is not None:
            self.finish[name] = (spec.post, literals)
        return name

    def _integral(self, call: ast.Call, arg: ast.Expr) -> str:
        if not isinstance(arg, ast.VarRef):
            raise QueryError("expected field argument in integral()")
        unit = SECOND
        if len(call.args) == 2:
            given = unwrap(call.args[1])
            if not isinstance(given, ast.DurationLit):
                raise QueryError("second argument must be a duration")
            unit = given.nanos
        typed = self.compiler.value(arg)
        numeric = typed.type in NUMERIC
        name = self.keys[call] = self.add(
            "CAST(NULL AS DOUBLE)" if numeric else "NULL", "float" if numeric else None
        )
        if numeric:
            self.integrals[name] = (typed.sql, unit)
        return name


def _literal(expr: ast.Expr, name: str) -> float:
    expr = unwrap(expr)
    if isinstance(expr, ast.NumberLit):
        return float(expr.value)
    raise QueryError(f"expected number argument in {name}()")


def projection(expr: ast.Expr, slots: Slots) -> ast.Expr:
    """The field with each aggregate call replaced by a reference to its slot."""
    expr = unwrap(expr)
    if isinstance(expr, ast.Call):
        if expr.name in TRANSFORMS:
            if not expr.args:
                raise QueryError(f"invalid number of arguments for {expr.name}")
            return ast.Call(expr.name, (projection(expr.args[0], slots), *expr.args[1:]))
        return ast.VarRef(slots.call(expr))
    if isinstance(expr, ast.BinaryExpr):
        return ast.BinaryExpr(expr.op, projection(expr.lhs, slots), projection(expr.rhs, slots))
    return expr


def _bin(query: Query) -> str | None:
    return bin_sql(query)


def _grouped_sql(query: Query, slots: dict[str, str], extra_where: str = "") -> str:
    binned = _bin(query)
    columns = [f"{binned} AS {quote_identifier(TIME_KEY)}"] if binned else []
    columns += group_select(query)
    columns += [f"{sql} AS {quote_identifier(name)}" for name, sql in slots.items()]
    by = ([binned] if binned else []) + [
        quote_identifier(t) for t in query.groups if t in query.source.info.tags
    ]
    keys = [quote_identifier(k) for k in group_keys(query)]
    order = keys + ([quote_identifier(TIME_KEY)] if binned else [])
    sql = f"SELECT {', '.join(columns)} FROM {query.source.ref} WHERE ({query.where}){extra_where}"
    if by:
        sql += f" GROUP BY {', '.join(by)}"
    if order:
        sql += f" ORDER BY {', '.join(order)}"
    return sql


def _start_time(query: Query) -> int:
    lower = query.time_range.lower
    return 0 if lower is None else lower


def _constant_time(rows: int, nanos: int) -> pa.Array:
    return pa.array(np.full(rows, nanos, dtype=np.int64)).cast(pa.timestamp("ns"))


def _distinct(query: Query) -> list[Series]:
    compiler = RowCompiler(query.source.info, query.now)
    call = unwrap(query.shape.fields[0].expr)
    assert isinstance(call, ast.Call)
    arg = compiler.value(call.args[0])
    if arg.type is None:
        return []
    binned = _bin(query)
    columns = [f"{binned} AS {quote_identifier(TIME_KEY)}"] if binned else []
    columns += [*group_select(query), f"{arg.sql} AS __c0"]
    keys = [quote_identifier(k) for k in group_keys(query)]
    order = keys + ([quote_identifier(TIME_KEY)] if binned else []) + ["__c0"]
    sql = (
        f"SELECT DISTINCT {', '.join(columns)} FROM {query.source.ref} "
        f"WHERE ({query.where}) AND {arg.sql} IS NOT NULL ORDER BY {', '.join(order)}"
    )
    table = buckets_to_utc(query, query.source.run(sql))
    if not binned:
        table = table.append_column(TIME_KEY, _constant_time(table.num_rows, _start_time(query)))
    ids = group_ids(table, group_keys(query))
    return _finish_rows(query, table, ids, ["__c0"], drop_empty=False)


def _finish_rows(
    query: Query, table: pa.Table, ids: np.ndarray, columns: list[str], drop_empty: bool
) -> list[Series]:
    if query.visible_from is not None and table.num_rows:
        times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
        keep = times >= query.visible_from
        table, ids = table.filter(pa.array(keep)), ids[keep]
    if drop_empty:
        table, ids = drop_empty_rows(table, ids, columns)
    if query.stmt.descending:
        table, ids = reverse_within(table, ids)
    mask = limit_mask(ids, query.stmt.limit, query.stmt.offset)
    if mask is not None:
        table, ids = table.filter(pa.array(mask)), ids[mask]
    return to_series(query, table, ids, columns)


def run_aggregate(query: Query) -> list[Series]:
    """The series of an aggregate SELECT over one source."""
    from flight_iox.influxql.integral import integral_values

    if query.shape.distinct:
        return _distinct(query)
    compiler = RowCompiler(query.source.info, query.now)
    slots = Slots(compiler)
    projections = [projection(f.expr, slots) for f in query.shape.fields]
    time_slot = _selector_slots(query, compiler, slots, projections)
    if slots.types and all(kind is None for kind in slots.types.values()):
        return []  # none of the aggregated fields exists in this source
    grouped = query.shape.time_group is not None or any(
        t in query.source.info.tags for t in query.groups
    )
    # Without GROUP BY the SQL answers one row even when no row matched: count them.
    count_slot = None if grouped else slots.add("count(*)", "integer")
    table = query.source.run(_grouped_sql(query, slots.sql))
    if count_slot is not None:
        table = table.filter(pc.greater(table.column(count_slot), 0))
    for name, (value_sql, unit) in slots.integrals.items():
        table = _replace(table, name, integral_values(query, table, value_sql, unit))
    for name, (post, literals) in slots.finish.items():
        lists = table.column(name).combine_chunks()
        if time_slot == f"{name}:time":
            times = table.column("__st").combine_chunks()
            index = percentile_index(lists, literals[0] if literals else 50.0)
            table = _replace(table, "__st", take_at(times, index))
            for aux in slots.at_selected:
                table = _replace(table, aux, take_at(table.column(aux).combine_chunks(), index))
        table = _replace(table, name, FINISHERS[post](lists, literals))
    grouping = query.shape.time_group
    if grouping is None:
        # 1.x gives integral() without GROUP BY time the zero time, not the query's start.
        only_integral = slots.integrals and len(slots.integrals) == len(slots.keys)
        start = _constant_time(table.num_rows, 0 if only_integral else _start_time(query))
        if time_slot is not None and "__st" in table.column_names:
            start = pc.coalesce(table.column("__st").combine_chunks(), start)
        table = table.append_column(TIME_KEY, start)
    else:
        grid = _grid(query)
        empty: dict[str, int] = {}
        for call, slot in slots.keys.items():
            fill = AGGREGATES[call.name].empty
            if fill is not None and slots.types[slot] is not None:
                empty[slot] = fill
        values = [n for n in slots.sql if n != count_slot]
        table = gap_fill(table, group_keys(query), values, grid, query.stmt.fill, empty)
        table = buckets_to_utc(query, table)
    ids = group_ids(table, group_keys(query))
    times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
    interval = query.shape.time_group.interval if query.shape.time_group else None
    outputs = _evaluate(projections, table, slots, ids, times, interval, query.stmt.descending)
    names = [f"__o{i}" for i in range(len(outputs))]
    for name, column in zip(names, outputs, strict=True):
        table = table.append_column(name, column)
    # Without GROUP BY time, a lone selector that selects no point (percentile 0) is no row.
    lone_selector = query.shape.selector is not None and query.shape.time_group is None
    drop_empty = query.shape.has_transform or lone_selector
    return _finish_rows(query, table, ids, names, drop_empty=drop_empty)


def _replace(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _grid(query: Query) -> Grid:
    grouping = query.shape.time_group
    assert grouping is not None
    bounds = query.time_range
    grid = Grid(grouping.interval, grouping.offset, None, None)
    upper = bounds.upper
    if upper is None and bounds.lower is not None:
        upper = query.now
    steps = zone_offsets(query)  # under tz() the grid is in local wall time
    if steps is not None:
        local = steps.to_local(np.array([bounds.lower or 0, upper or 0], dtype=np.int64))
        lower, upper = (
            int(local[0]) if bounds.lower is not None else None,
            int(local[1]) if upper is not None else None,
        )
    else:
        lower = bounds.lower
    first = grid.floor(lower) if lower is not None else None
    last = grid.floor(upper) if upper is not None else None
    return Grid(grouping.interval, grouping.offset, first, last)


def _selector_slots(
    query: Query, compiler: RowCompiler, slots: Slots, projections: list[ast.Expr]
) -> str | None:
    """For a lone selector: slots for its point's time and the other columns of its row."""
    selector = query.shape.selector
    if selector is None:
        return None
    arg = compiler.value(selector.args[0])
    if arg.type is None:
        return None
    order = selector_order(selector.name, arg)
    where = f"FILTER (WHERE {arg.sql} IS NOT NULL)"
    if selector.name == "percentile":
        slots.sql["__st"] = f"array_agg({TIME} ORDER BY {order}) {where}"
        slots.types["__st"] = "time"
        time_slot = f"{slots.call(selector)}:time"
    else:
        slots.sql["__st"] = f"first_value({TIME} ORDER BY {order}) {where}"
        slots.types["__st"] = "time"
        time_slot = "__st"
    for i, expr in enumerate(projections):
        if isinstance(expr, ast.VarRef) and expr.name not in slots.sql:
            aux = compiler.value(expr)
            pick = "array_agg" if selector.name == "percentile" else "first_value"
            sql = "NULL" if aux.type is None else f"{pick}({aux.sql} ORDER BY {order}) {where}"
            ref = ast.VarRef(slots.add(sql, aux.type))
            projections[i] = ref
            if pick == "array_agg" and aux.type is not None:
                slots.at_selected.append(ref.name)
    return time_slot


def _evaluate(
    projections: list[ast.Expr],
    table: pa.Table,
    slots: Slots,
    ids: np.ndarray,
    times: np.ndarray,
    unit: int | None,
    descending: bool = False,
) -> list[pa.Array]:
    outputs: list[pa.Array | None] = []
    pending: dict[int, ast.Expr] = {}
    for i, expr in enumerate(projections):
        if isinstance(expr, ast.VarRef) and expr.name in table.column_names:
            outputs.append(table.column(expr.name).combine_chunks())
        elif isinstance(expr, ast.Call) and expr.name in TRANSFORMS:
            inner = _evaluate([expr.args[0]], table, slots, ids, times, unit, descending)[0]
            outputs.append(apply_transform(expr, inner, ids, times, unit, descending))
        else:
            outputs.append(None)
            pending[i] = expr
    if pending:
        fields = {n: t for n, t in slots.types.items() if t is not None and t != "time"}
        compiler = RowCompiler(TableInfo("slots", fields=fields), 0)
        sql = ", ".join(
            f"{compiler.value(e).sql} AS {quote_identifier(f'p{i}')}" for i, e in pending.items()
        )
        context = SessionContext()
        data = table.select(list(fields)) if fields else pa.table({"x": pa.nulls(table.num_rows)})
        context.from_arrow(data.combine_chunks(), "slots")
        result = context.sql(f"SELECT {sql} FROM slots").to_arrow_table()
        for i in pending:
            outputs[i] = result.column(f"p{i}").combine_chunks()
    return [o for o in outputs if o is not None]
