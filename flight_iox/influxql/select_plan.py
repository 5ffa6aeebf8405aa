"""The shape of a SELECT before any SQL: expanded fields, column names, mode and checks.

This follows InfluxDB 1.x's rules: ``*`` and regexes expand over the union of
the sources' columns, sorted, without the GROUP BY tags; a column name is the
alias, the call name, the referenced names joined by ``_`` for arithmetic, and
repeats get ``_1``, ``_2``; aggregates may only be mixed with plain columns
when there is a single selector.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import TableInfo, unwrap
from flight_iox.influxql.functions import AGGREGATES, SELECTORS, TRANSFORMS
from flight_iox.influxql.technical import INDICATORS
from flight_iox.influxql.technical import check as check_indicator
from flight_iox.safe_regex import regex_search

RAW, AGGREGATE, TOP = "raw", "aggregate", "top"


@dataclass(frozen=True)
class TimeGrouping:
    """``GROUP BY time(interval, offset)``."""

    interval: int
    offset: int = 0


@dataclass
class SelectShape:
    """A SELECT resolved against its sources' schemas."""

    fields: list[ast.Field]
    names: list[str]
    time_name: str
    mode: str
    group_tags: list[str] | None  # None means GROUP BY *: every tag of each source
    tag_patterns: list[str] = field(default_factory=list)
    time_group: TimeGrouping | None = None
    selector: ast.Call | None = None  # the lone selector whose point's time and row are used
    has_transform: bool = False
    distinct: bool = False
    selector_n: ast.Call | None = None  # top() or bottom(): TOP mode (see select_top.py)


def calls_in(expr: ast.Expr) -> Iterable[ast.Call]:
    """Every call in an expression, outermost first."""
    expr = unwrap(expr)
    if isinstance(expr, ast.Call):
        yield expr
        for arg in expr.args:
            yield from calls_in(arg)
    elif isinstance(expr, ast.BinaryExpr):
        yield from calls_in(expr.lhs)
        yield from calls_in(expr.rhs)


def refs_in(expr: ast.Expr) -> Iterable[ast.VarRef]:
    """Every column reference outside calls."""
    expr = unwrap(expr)
    if isinstance(expr, ast.VarRef):
        yield expr
    elif isinstance(expr, ast.BinaryExpr):
        yield from refs_in(expr.lhs)
        yield from refs_in(expr.rhs)


def _name_parts(expr: ast.Expr) -> list[str]:
    expr = unwrap(expr)
    if isinstance(expr, ast.VarRef):
        return [expr.name]
    if isinstance(expr, ast.Call):
        return [expr.name]
    if isinstance(expr, ast.BinaryExpr):
        return _name_parts(expr.lhs) + _name_parts(expr.rhs)
    return []


def field_name(f: ast.Field) -> str:
    """InfluxDB's name for a SELECT item."""
    if f.alias:
        return f.alias
    return "_".join(_name_parts(f.expr))


def unique_names(names: list[str], reserved: str) -> list[str]:
    """Suffix repeats with ``_1``, ``_2``, ... as InfluxDB does."""
    used: dict[str, int] = {reserved: 1}
    out = []
    for name in names:
        if name not in used:
            used[name] = 1
            out.append(name)
            continue
        count = used[name]
        while f"{name}_{count}" in used:
            count += 1
        out.append(f"{name}_{count}")
        used[f"{name}_{count}"] = 1
        used[name] = count + 1
    return out


def _columns(infos: list[TableInfo], kind: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for info in infos:
        if kind != "tag":
            for name in info.fields:
                out.setdefault(name, "field")
        if kind != "field":
            for name in info.tags:
                out.setdefault(name, "tag")
    return out


def expand_fields(
    fields: tuple[ast.Field, ...], infos: list[TableInfo], exclude: set[str]
) -> list[ast.Field]:
    """Expand ``*``, ``*::field``, regexes and ``fn(*)`` over the sources' columns."""
    out: list[ast.Field] = []
    for f in fields:
        expr = unwrap(f.expr)
        if isinstance(expr, ast.Wildcard | ast.RegexLit):
            kind = expr.kind if isinstance(expr, ast.Wildcard) else None
            columns = _columns(infos, kind)
            for name in sorted(columns):
                if name in exclude and columns[name] == "tag":
                    continue
                if isinstance(expr, ast.RegexLit) and not regex_search(expr.pattern, name):
                    continue
                out.append(ast.Field(ast.VarRef(name, kind)))
            continue
        if isinstance(expr, ast.Call) and expr.args:
            arg = unwrap(expr.args[0])
            if isinstance(arg, ast.Wildcard | ast.RegexLit):
                for name in sorted(_columns(infos, "field")):
                    if isinstance(arg, ast.RegexLit) and not regex_search(arg.pattern, name):
                        continue
                    call = ast.Call(expr.name, (ast.VarRef(name), *expr.args[1:]))
                    out.append(ast.Field(call, f"{expr.name}_{name}"))
                continue
        out.append(f)
    return out


def _dimensions(
    stmt: ast.SelectStatement,
) -> tuple[list[str] | None, list[str], TimeGrouping | None]:
    tags: list[str] | None = []
    patterns: list[str] = []
    grouping = None
    for dim in stmt.dimensions:
        dim = unwrap(dim)
        if isinstance(dim, ast.Call) and dim.name == "time":
            if not dim.args or not isinstance(dim.args[0], ast.DurationLit):
                raise QueryError("time dimension expected 1 or 2 arguments: a duration")
            interval = dim.args[0].nanos
            offset = 0
            if len(dim.args) > 1:
                arg = unwrap(dim.args[1])
                if isinstance(arg, ast.DurationLit):
                    offset = arg.nanos
                elif not (isinstance(arg, ast.Call) and arg.name == "now"):
                    raise QueryError("time dimension offset must be a duration or now()")
            if interval <= 0:
                raise QueryError("time dimension must have a positive duration")
            grouping = TimeGrouping(interval, offset % interval)
        elif isinstance(dim, ast.Wildcard):
            tags = None
        elif isinstance(dim, ast.RegexLit):
            patterns.append(dim.pattern)
        elif isinstance(dim, ast.VarRef):
            if tags is not None and dim.name not in tags:
                tags.append(dim.name)
        else:
            raise QueryError("only time(), tags, * and regexes are allowed in GROUP BY")
    return tags, patterns, grouping


def _is_aggregate_call(call: ast.Call) -> bool:
    return call.name in AGGREGATES or call.name in ("distinct", "top", "bottom", "sample")


def shape_select(stmt: ast.SelectStatement, infos: list[TableInfo]) -> SelectShape:
    """Resolve a SELECT's fields and mode against its sources."""
    group_tags, patterns, grouping = _dimensions(stmt)
    all_tags = {t for i in infos for t in i.tags}
    exclude = set(group_tags) if group_tags is not None else all_tags
    for pattern in patterns:
        exclude |= {t for i in infos for t in i.tags if regex_search(pattern, t)}
    fields = expand_fields(stmt.fields, infos, exclude)
    time_name = "time"
    kept = []
    for f in fields:
        inner = unwrap(f.expr)
        if isinstance(inner, ast.VarRef) and inner.name.lower() == "time":
            time_name = f.alias or time_name
            continue
        kept.append(f)
    if not kept:
        raise QueryError("at least 1 non-time field must be queried")
    fields = kept
    from flight_iox.influxql.select_top import tag_arguments, top_call

    selector_n = top_call(fields)
    if selector_n is not None:
        names: list[str] = []
        for f in fields:
            names.append(field_name(f))
            if unwrap(f.expr) is selector_n:
                names += tag_arguments(selector_n)
        return SelectShape(
            fields=fields,
            names=unique_names(names, time_name),
            time_name=time_name,
            mode=TOP,
            group_tags=group_tags,
            tag_patterns=patterns,
            time_group=grouping,
            selector_n=selector_n,
        )
    calls = [c for f in fields for c in calls_in(f.expr)]
    for call in calls:
        if call.name in INDICATORS:
            check_indicator(call, grouping is not None)
    aggregates = [
        c
        for c in calls
        if (_is_aggregate_call(c) and c.name != "distinct")
        or (c.name == "distinct" and not any(p.name == "count" for p in calls))
    ]
    top_calls = [unwrap(f.expr) for f in fields]
    has_transform = any(c.name in TRANSFORMS for c in calls)
    distinct = any(isinstance(e, ast.Call) and e.name == "distinct" for e in top_calls)
    if distinct and len(fields) > 1:
        raise QueryError(
            "aggregate function distinct() cannot be combined with other functions or fields"
        )
    mode = AGGREGATE if aggregates else RAW
    if mode == RAW and grouping is not None:
        raise QueryError("GROUP BY requires at least one aggregate function")
    if any(c.name in INDICATORS for c in calls) and any(not list(calls_in(f.expr)) for f in fields):
        raise QueryError("mixing aggregate and non-aggregate queries is not supported")  # 1.x
    selector = None
    if mode == AGGREGATE:
        plain = [f for f in fields if not list(calls_in(f.expr))]
        outer = [c for c in (unwrap(f.expr) for f in fields) if isinstance(c, ast.Call)]
        lone = len(calls) == 1 and outer and outer[0].name in SELECTORS
        if plain and not lone:
            raise QueryError("mixing aggregate and non-aggregate columns is not supported")
        if lone and grouping is None and not has_transform:
            selector = outer[0]
        if any(list(refs_in(f.expr)) and list(calls_in(f.expr)) for f in fields):
            raise QueryError("mixing aggregate and non-aggregate columns is not supported")
    names = unique_names([field_name(f) for f in fields], time_name)
    return SelectShape(
        fields=fields,
        names=names,
        time_name=time_name,
        mode=mode,
        group_tags=group_tags,
        tag_patterns=patterns,
        time_group=grouping,
        selector=selector,
        has_transform=has_transform,
        distinct=distinct,
    )


def source_group_tags(shape: SelectShape, info: TableInfo) -> list[str]:
    """The GROUP BY tags for one source, in InfluxDB's order (sorted)."""
    if shape.group_tags is None:
        return sorted(info.tags)
    tags = list(shape.group_tags)
    for pattern in shape.tag_patterns:
        tags += [t for t in sorted(info.tags) if regex_search(pattern, t) and t not in tags]
    return sorted(tags)
