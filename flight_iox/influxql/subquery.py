"""Subqueries: run the inner SELECT, then serve its series as tables for the outer one.

The inner result is small (it is already aggregated or limited in the common
cases), so it is held in Arrow and queried with a scratch DataFusion context;
the outer query compiles to SQL over it exactly as over a measurement.
"""

from __future__ import annotations

import dataclasses
import functools

import pyarrow as pa
from datafusion import SessionContext

from flight_iox.columns import FieldType
from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context, plain_strings
from flight_iox.influxql.expressions import TableInfo, unwrap
from flight_iox.influxql.result import Series
from flight_iox.influxql.select_exec import Source
from flight_iox.sql_quote import quote_identifier

SCRATCH = "subquery"


def _as_table(series: list[Series]) -> tuple[pa.Table, TableInfo]:
    tag_names = sorted({k for s in series for k in s.tags})
    names = list(dict.fromkeys(c for s in series for c in s.columns[1:]))
    value_names = [c for c in names if c not in tag_names]
    clash = sorted({c for s in series for c in s.columns[1:] if c not in s.tags} & set(tag_names))
    if clash:
        raise QueryError(f"column {clash[0]!r} is a tag in one subquery and a field in another")
    tables = []
    for s in series:
        columns: dict[str, pa.Array] = {"time": s.data.column(0).cast(pa.timestamp("ns"))}
        for tag in tag_names:
            columns[tag] = pa.array([s.tags.get(tag) or None] * s.data.num_rows, pa.string())
        for i, name in enumerate(s.columns[1:], start=1):
            if name in value_names:
                columns[name] = s.data.column(i)
        tables.append(pa.table(columns))
    data = pa.concat_tables(tables, promote_options="permissive")
    fields = {
        name: FieldType.of_arrow(data.schema.field(name).type) or FieldType.STRING
        for name in value_names
        if not pa.types.is_null(data.schema.field(name).type)
    }
    return data, TableInfo(series[0].name, frozenset(tag_names), fields)


def _run_scratch(context: SessionContext, sql: str) -> pa.Table:
    """Run ``sql`` over a subquery's results, its strings plain (not dictionaries)."""
    return plain_strings(context.sql(sql).to_arrow_table())


def subquery_sources(
    stmts: list[ast.SelectStatement], ctx: Context, outer_dimensions: tuple[ast.Expr, ...] = ()
) -> list[Source]:
    """One source per measurement name in the inner queries' results (merged across them).

    Each inner query also groups by the outer query's tag dimensions, as InfluxDB does.
    """
    from flight_iox.influxql.select import run_select

    inner: list[Series] = []
    for stmt in stmts:
        inherited = tuple(d for d in outer_dimensions if _tag_dimension(d, stmt.dimensions))
        if inherited:
            stmt = dataclasses.replace(stmt, dimensions=stmt.dimensions + inherited)
        inner += run_select(stmt, ctx)
    by_name: dict[str, list[Series]] = {}
    for s in inner:
        by_name.setdefault(s.name, []).append(s)
    sources = []
    for name, series in sorted(by_name.items()):
        data, info = _as_table(series)
        context = SessionContext()
        context.from_arrow(data.combine_chunks(), SCRATCH)
        sources.append(
            Source(
                name,
                info,
                quote_identifier(SCRATCH),
                functools.partial(_run_scratch, context),
            )
        )
    return sources


def _tag_dimension(dim: ast.Expr, own: tuple[ast.Expr, ...]) -> bool:
    """Whether an outer GROUP BY item is a tag grouping the inner query lacks."""
    dim = unwrap(dim)
    if isinstance(dim, ast.Call):  # time(...)
        return False
    return all(unwrap(d) != dim for d in own)
