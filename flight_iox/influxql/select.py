"""SELECT: resolve the sources, shape the query, run it per source, order and cut the series."""

from __future__ import annotations

import functools

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.expressions import COMPARISON, RowCompiler, TableInfo, unwrap
from flight_iox.influxql.functions import TRANSFORMS
from flight_iox.influxql.result import Series
from flight_iox.influxql.retention import check_policy
from flight_iox.influxql.select_exec import Query, Source, run_source
from flight_iox.influxql.select_plan import AGGREGATE, SelectShape, calls_in, shape_select
from flight_iox.influxql.timerange import TimeRange, condition_range, is_time_ref
from flight_iox.influxql.tz import zone_info
from flight_iox.safe_regex import compile_regex
from flight_iox.sql_quote import quote_identifier


def measurement_names(source: ast.Measurement, ctx: Context) -> tuple[str, list[str]]:
    """The database and the measurement names a FROM item stands for, sorted.

    This is where a FROM item's database is chosen, so it is checked here (before its
    existence, which a caller who may not read it does not learn).
    """
    database = ctx.resolve(source.database)
    check_policy(ctx, database, source.retention_policy)
    if database not in ctx.backend.database_names():
        raise QueryError(f"database not found: {database}")
    tables = ctx.tables(database)
    if source.regex is not None:
        pattern = compile_regex(source.regex)
        return database, sorted(t for t in tables if pattern.search(t))
    return database, [source.name] if source.name in tables else []


def resolve_sources(
    sources: tuple[ast.Source, ...], ctx: Context, dimensions: tuple[ast.Expr, ...] = ()
) -> list[Source]:
    """Every table (or subquery result) a FROM clause names, each once, sorted by name.

    A subquery also groups by the outer query's tag dimensions (``dimensions``), as InfluxDB
    does, so the outer GROUP BY sees the tags.
    """
    from flight_iox.influxql.subquery import subquery_sources

    found: dict[str, Source] = {}
    subqueries = [item.statement for item in sources if isinstance(item, ast.SubQuery)]
    if subqueries:  # the subqueries' series of one name make one source, as in InfluxDB
        for source in subquery_sources(subqueries, ctx, dimensions):
            found[f"sub:{source.name}"] = source
    for item in sources:
        if isinstance(item, ast.SubQuery):
            continue
        database, names = measurement_names(item, ctx)
        infos = ctx.tables(database)
        for name in names:
            key = f"{database}.{name}"
            if key not in found:
                found[key] = Source(
                    name,
                    infos[name],
                    f"{quote_identifier(database)}.iox.{quote_identifier(name)}",
                    functools.partial(ctx.sql, database),
                )
    return sorted(found.values(), key=lambda s: s.name)


def run_select(stmt: ast.SelectStatement, ctx: Context) -> list[Series]:
    """All series of a SELECT, in InfluxDB's order, after SLIMIT/SOFFSET."""
    sources = resolve_sources(stmt.sources, ctx, stmt.dimensions)
    if not sources:
        return []
    shape = shape_select(stmt, _merged_infos(sources))
    if stmt.timezone is not None:
        zone_info(stmt.timezone)
    condition = hoist_time(stmt.condition)
    time_range = condition_range(condition, ctx.now)
    visible_from = None
    widen = _widening(shape)
    if widen and shape.time_group is not None and time_range.lower is not None:
        # Transformations of aggregates see the buckets before the range (as InfluxDB does).
        grouping = shape.time_group
        first = (time_range.lower - grouping.offset) // grouping.interval * grouping.interval
        visible_from = first + grouping.offset
        lower = time_range.lower - widen * grouping.interval  # unaligned, as IOx does
        condition = _with_lower_bound(condition, lower)
        time_range = TimeRange(lower, time_range.upper)
    compared = compared_columns(condition)
    series: list[Series] = []
    for source in sources:
        where = "TRUE"
        if condition is not None:
            where = RowCompiler(source.info, ctx.now).condition(condition).sql
        query = Query(stmt, shape, source, ctx.now, where, time_range)
        query.visible_from = visible_from
        query.zone = stmt.timezone
        query.not_null = frozenset(n for n in compared if n in source.info.fields)
        series.extend(run_source(query))
    series.sort(key=lambda s: (s.name, sorted(s.tags.items())))
    if stmt.descending:  # the series of each measurement in reverse; measurements stay sorted
        series.reverse()
        series.sort(key=lambda s: s.name)
    if stmt.soffset:
        series = series[stmt.soffset :]
    if stmt.slimit:
        series = series[: stmt.slimit]
    return series


def _widening(shape: SelectShape) -> int:
    """How many buckets before the range the transformations of an aggregate query need."""
    if shape.mode != AGGREGATE:
        return 0
    need = 0
    for f in shape.fields:
        for call in calls_in(f.expr):
            if call.name in TRANSFORMS and call.name != "cumulative_sum":
                need = max(need, 1)
    return need


def _with_lower_bound(condition: ast.Expr | None, lower: int) -> ast.Expr | None:
    """The condition with its top-level lower time bounds moved down to ``lower``."""
    return None if condition is None else _lower_bound_moved(condition, lower)


def _lower_bound_moved(condition: ast.Expr, lower: int) -> ast.Expr:
    inner = unwrap(condition)
    if isinstance(inner, ast.BinaryExpr) and inner.op == "and":
        return ast.BinaryExpr(
            "and", _lower_bound_moved(inner.lhs, lower), _lower_bound_moved(inner.rhs, lower)
        )
    if isinstance(inner, ast.BinaryExpr):
        lower_ops = {">", ">="} if is_time_ref(inner.lhs) else set()
        lower_ops |= {"<", "<="} if is_time_ref(inner.rhs) else set()
        if inner.op in lower_ops:
            return ast.BinaryExpr(">=", ast.VarRef("time"), ast.NumberLit(lower, True))
    return condition


def compared_columns(condition: ast.Expr | None) -> set[str]:
    """Columns a top-level AND of WHERE compares: rows where they are null never match.

    A comparison with a null column is null, hence false, in the compiled SQL; ``!~`` (true
    for a null) and ``::tag``/``::string`` references (compared as ``''``) are left out.
    """
    inner = None if condition is None else unwrap(condition)
    if not isinstance(inner, ast.BinaryExpr):
        return set()
    if inner.op == "and":
        return compared_columns(inner.lhs) | compared_columns(inner.rhs)
    if inner.op not in COMPARISON and inner.op != "=~":
        return set()
    sides = (unwrap(inner.lhs), unwrap(inner.rhs))
    return {
        side.name
        for side in sides
        if isinstance(side, ast.VarRef) and side.cast in (None, "field") and not is_time_ref(side)
    }


def _merged_infos(sources: list[Source]) -> list[TableInfo]:
    return [s.info for s in sources]


def hoist_time(condition: ast.Expr | None) -> ast.Expr | None:
    """The condition with every time comparison ANDed at the top, as IOx reads WHERE clauses.

    IOx takes the time bounds out of the whole condition (also from under OR) and applies
    them all; ``cpu = 'a' OR cpu = 'b' AND time >= t`` is ``(cpu = 'a' OR cpu = 'b') AND
    time >= t``, and ``time = a OR time = b`` is empty.
    """
    if condition is None:
        return None
    found: list[ast.Expr] = []
    rest = _without_time(condition, found)
    if not found or (rest is not None and _only_top_level_ands(condition)):
        return condition
    for part in found:
        rest = part if rest is None else ast.BinaryExpr("and", rest, part)
    return rest


def _only_top_level_ands(expr: ast.Expr) -> bool:
    """Whether every time comparison sits under ANDs only (nothing to hoist)."""
    expr = unwrap(expr)
    if isinstance(expr, ast.BinaryExpr) and expr.op == "and":
        return _only_top_level_ands(expr.lhs) and _only_top_level_ands(expr.rhs)
    if isinstance(expr, ast.BinaryExpr) and expr.op == "or":
        return not _mentions_time(expr)
    return True


def _mentions_time(expr: ast.Expr) -> bool:
    expr = unwrap(expr)
    if isinstance(expr, ast.BinaryExpr):
        if expr.op in ("and", "or"):
            return _mentions_time(expr.lhs) or _mentions_time(expr.rhs)
        return is_time_ref(unwrap(expr.lhs)) or is_time_ref(unwrap(expr.rhs))
    return False


def _without_time(expr: ast.Expr, found: list[ast.Expr]) -> ast.Expr | None:
    inner = unwrap(expr)
    if isinstance(inner, ast.BinaryExpr) and inner.op in ("and", "or"):
        lhs, rhs = _without_time(inner.lhs, found), _without_time(inner.rhs, found)
        if lhs is None or rhs is None:
            return lhs if rhs is None else rhs
        return ast.BinaryExpr(inner.op, lhs, rhs)
    if isinstance(inner, ast.BinaryExpr) and (
        is_time_ref(unwrap(inner.lhs)) or is_time_ref(unwrap(inner.rhs))
    ):
        found.append(expr)
        return None
    return expr
