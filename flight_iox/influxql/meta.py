"""SHOW statements: schema questions answered from the catalog, data questions with SQL.

A registry maps each SHOW kind to its handler. Answers that depend on data
(``WHERE`` on tags or time, tag values, series keys) run DISTINCT/count SQL
over the measurement, so they see the same rows a SELECT would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.continuous import show_continuous_queries
from flight_iox.influxql.expressions import RowCompiler, TableInfo, unwrap
from flight_iox.influxql.result import Series, table_series
from flight_iox.influxql.retention import show_retention_policies
from flight_iox.influxql.select import measurement_names
from flight_iox.safe_regex import compile_regex, regex_search
from flight_iox.sql_quote import quote_identifier, quote_string

Handler = Callable[[ast.ShowStatement, Context], list[Series]]


_series = table_series


def _cut(items: list, stmt: ast.ShowStatement) -> list:
    items = items[stmt.offset :] if stmt.offset else items
    return items[: stmt.limit] if stmt.limit else items


def _database(stmt: ast.ShowStatement, ctx: Context) -> str:
    """The ``ON`` database (or the query's), checked for read before its existence."""
    database = ctx.resolve(stmt.database)
    if database not in ctx.backend.database_names():
        raise QueryError(f"database not found: {database}")
    return database


def _measurements(stmt: ast.ShowStatement, ctx: Context) -> tuple[str, list[TableInfo]]:
    named = {s.database for s in stmt.sources if isinstance(s, ast.Measurement) and s.database}
    if stmt.database is None and len(named) == 1:  # SHOW ... FROM db..m: that database
        stmt = dataclasses.replace(stmt, database=named.pop())
    database = _database(stmt, ctx)
    tables = ctx.tables(database)
    if not stmt.sources:
        return database, [tables[n] for n in sorted(tables)]
    names: set[str] = set()
    for source in stmt.sources:
        if not isinstance(source, ast.Measurement):
            raise QueryError("subqueries are not allowed in SHOW statements")
        source_database, found = measurement_names(source, ctx)
        if source_database != database:
            raise QueryError(
                f"FROM names database {source_database!r}, the statement's is {database!r}"
            )
        names.update(found)
    return database, [tables[n] for n in sorted(names)]


def _where(stmt: ast.ShowStatement, ctx: Context, info: TableInfo) -> str:
    if stmt.condition is None:
        return "TRUE"
    return RowCompiler(info, ctx.now).condition(stmt.condition).sql


def _ref(database: str, info: TableInfo) -> str:
    return f"{quote_identifier(database)}.iox.{quote_identifier(info.name)}"


def _has_rows(database: str, info: TableInfo, where: str, ctx: Context) -> bool:
    table = ctx.sql(database, f"SELECT 1 FROM {_ref(database, info)} WHERE {where} LIMIT 1")
    return table.num_rows > 0


def show_databases(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW DATABASES``: only those the caller may read."""
    names = ctx.principal.readable(ctx.backend.database_names())
    return [_series("databases", ["name"], [[n] for n in names])]


def _matching_measurements(stmt: ast.ShowStatement, ctx: Context) -> list[str]:
    database, infos = _measurements(stmt, ctx)
    out = []
    test = unwrap(stmt.measurement) if stmt.measurement is not None else None
    for info in infos:
        if isinstance(test, ast.BinaryExpr):
            rhs = unwrap(test.rhs)
            if isinstance(rhs, ast.RegexLit) and not regex_search(rhs.pattern, info.name):
                continue
            if isinstance(rhs, ast.StringLit) and rhs.value != info.name:
                continue
        if stmt.condition is not None and not _has_rows(
            database, info, _where(stmt, ctx, info), ctx
        ):
            continue
        out.append(info.name)
    return out


def show_measurements(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW MEASUREMENTS [WITH MEASUREMENT ...] [WHERE ...] [LIMIT] [OFFSET]``."""
    names = _cut(_matching_measurements(stmt, ctx), stmt)
    return [_series("measurements", ["name"], [[n] for n in names])] if names else []


def _present_tags(database: str, info: TableInfo, where: str, ctx: Context) -> list[str]:
    tags = sorted(info.tags)
    if not tags or where == "TRUE":
        return tags
    counts = ", ".join(f"count({quote_identifier(t)}) AS {quote_identifier(t)}" for t in tags)
    row = ctx.sql(database, f"SELECT {counts} FROM {_ref(database, info)} WHERE {where}")
    return [t for t in tags if row.column(t)[0].as_py()]


def show_tag_keys(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW TAG KEYS [FROM ...] [WHERE ...]``: one series per measurement."""
    database, infos = _measurements(stmt, ctx)
    out = []
    for info in infos:
        keys = _cut(_present_tags(database, info, _where(stmt, ctx, info), ctx), stmt)
        if keys:
            out.append(_series(info.name, ["tagKey"], [[k] for k in keys]))
    return out


def _keys(stmt: ast.ShowStatement, info: TableInfo) -> list[str]:
    tags = sorted(info.tags)
    op = stmt.key_op
    if op == "=" or op == "in":
        return [t for t in tags if t in stmt.key_values]
    if op == "!=":
        return [t for t in tags if t not in stmt.key_values]
    pattern = compile_regex(stmt.key_regex or "")
    return [t for t in tags if bool(pattern.search(t)) == (op == "=~")]


def _tag_values(
    stmt: ast.ShowStatement, ctx: Context, database: str, info: TableInfo
) -> list[list[object]]:
    keys = _keys(stmt, info)
    if not keys:
        return []
    where = _where(stmt, ctx, info)
    cached = _distinct_cache(database, info, keys, ctx) if where == "TRUE" else None
    source = cached or _ref(database, info)
    parts = [
        f"SELECT {quote_string(k)} AS key, CAST({quote_identifier(k)} AS VARCHAR) AS value "
        f"FROM {source} WHERE ({where}) AND {quote_identifier(k)} IS NOT NULL"
        for k in keys
    ]
    sql = f"SELECT DISTINCT key, value FROM ({' UNION ALL '.join(parts)}) ORDER BY key, value"
    table = ctx.sql(database, sql)
    return [[k, v] for k, v in zip(*(table.column(i).to_pylist() for i in (0, 1)), strict=True)]


def _distinct_cache(database: str, info: TableInfo, keys: list[str], ctx: Context) -> str | None:
    """``distinct_cache(..)`` of a distinct cache holding every key (the first by name), if any.

    As in InfluxDB 3, the answer is then the values the cache holds: those seen within its
    ``max_age`` (and, past ``max_cardinality``, the most recently seen).
    """
    caches = ctx.sql(
        database,
        "SELECT name, column_names FROM system.distinct_caches "
        f"WHERE {quote_identifier('table')} = {quote_string(info.name)} ORDER BY name",
    )
    for name, columns in zip(*(caches.column(i).to_pylist() for i in (0, 1)), strict=True):
        if set(keys) <= set(columns):
            return f"distinct_cache({quote_string(info.name)}, {quote_string(name)})"
    return None


def show_tag_values(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW TAG VALUES [FROM ...] WITH KEY ... [WHERE ...]``."""
    database, infos = _measurements(stmt, ctx)
    out = []
    for info in infos:
        rows = _cut(_tag_values(stmt, ctx, database, info), stmt)
        if rows:
            out.append(_series(info.name, ["key", "value"], rows))
    return out


def show_field_keys(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW FIELD KEYS [FROM ...]`` with InfluxDB's type names."""
    _, infos = _measurements(stmt, ctx)
    out = []
    for info in infos:
        rows = _cut([[n, info.fields[n]] for n in sorted(info.fields)], stmt)
        if rows:
            out.append(_series(info.name, ["fieldKey", "fieldType"], rows))
    return out


def _escape(values: pa.Array, special: str) -> pa.Array:
    values = values.cast(pa.string())
    for ch in special:
        values = pc.replace_substring(values, ch, "\\" + ch)
    return values


def series_keys(database: str, info: TableInfo, where: str, ctx: Context) -> list[str]:
    """The distinct series keys (``m,tag=v,...``) of a measurement's matching rows, sorted."""
    tags = sorted(info.tags)
    name = _escape(pa.array([info.name]), ", ")[0].as_py()
    if not tags:
        return [name] if _has_rows(database, info, where, ctx) else []
    cols = ", ".join(
        f"CAST({quote_identifier(t)} AS VARCHAR) AS {quote_identifier(t)}" for t in tags
    )
    table = ctx.sql(database, f"SELECT DISTINCT {cols} FROM {_ref(database, info)} WHERE {where}")
    pieces = []
    for tag in tags:
        values = _escape(table.column(tag).combine_chunks(), ", =")
        label = _escape(pa.array([tag]), ", =")[0].as_py()
        pieces.append(pc.binary_join_element_wise(f",{label}=", values, ""))
    keys = pc.binary_join_element_wise(name, *(pc.fill_null(p, "") for p in pieces), "")
    return sorted(set(keys.to_pylist()))


def show_series(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW SERIES [FROM ...] [WHERE ...]``: one ``key`` column."""
    database, infos = _measurements(stmt, ctx)
    keys = [k for info in infos for k in series_keys(database, info, _where(stmt, ctx, info), ctx)]
    keys = _cut(keys, stmt)
    return [_series("", ["key"], [[k] for k in keys])] if keys else []


def show_cardinality(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW {MEASUREMENT|SERIES|TAG KEY|TAG VALUES|FIELD KEY} [EXACT] CARDINALITY``."""
    kind = stmt.kind.removesuffix(" cardinality")
    if kind == "measurement":
        count = len(_matching_measurements(stmt, ctx))
        column = "count" if stmt.exact else "cardinality estimation"
        return [_series("", [column], [[count]])]
    database, infos = _measurements(stmt, ctx)
    counters: dict[str, Callable[[TableInfo], int]] = {
        "series": lambda i: len(series_keys(database, i, _where(stmt, ctx, i), ctx)),
        "tag key": lambda i: len(_present_tags(database, i, _where(stmt, ctx, i), ctx)),
        "tag values": lambda i: len(_tag_values(stmt, ctx, database, i)),
        "field key": lambda i: len(i.fields),
    }
    counts = [(info.name, counters[kind](info)) for info in infos]
    if kind == "series" and not stmt.exact and not stmt.sources:
        return [_series("", ["cardinality estimation"], [[sum(c for _, c in counts)]])]
    return [_series(name, ["count"], [[count]]) for name, count in counts if count]


SHOW_HANDLERS: dict[str, Handler] = {
    "databases": show_databases,
    "retention policies": show_retention_policies,
    "continuous queries": show_continuous_queries,
    "measurements": show_measurements,
    "tag keys": show_tag_keys,
    "tag values": show_tag_values,
    "field keys": show_field_keys,
    "series": show_series,
    "measurement cardinality": show_cardinality,
    "series cardinality": show_cardinality,
    "tag key cardinality": show_cardinality,
    "tag values cardinality": show_cardinality,
    "field key cardinality": show_cardinality,
}
