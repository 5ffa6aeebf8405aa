"""``top()``, ``bottom()`` and ``sample()``: N points of each group, as SQL windows.

``sample(field, N)`` keeps N points of each group and bucket chosen at random (a window
ordered by ``random()``), at their own times, for any field type.

``top(field[, tag...], N)`` keeps, per series group (and per ``GROUP BY time`` bucket), the N
points with the largest values, ties to the earlier point. With tag arguments it first keeps the
largest point of each distinct combination of those tags, then the N largest of those. The
points keep their own times; the tags named as arguments and any plain columns of the SELECT
come from the selected rows. Both steps are ``ROW_NUMBER()`` windows in one DataFusion query.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import RowCompiler, Typed, unwrap
from flight_iox.influxql.fill import TIME_KEY
from flight_iox.influxql.result import Series
from flight_iox.influxql.select_exec import Query, bin_sql, group_keys, group_select, to_series
from flight_iox.influxql.series import group_ids, limit_mask
from flight_iox.sql_quote import quote_identifier

TIME = quote_identifier("time")
NAMES = ("top", "bottom", "sample")


def top_call(fields: list[ast.Field]) -> ast.Call | None:
    """The ``top``/``bottom`` call of a SELECT, checked; None when there is none."""
    calls = [unwrap(f.expr) for f in fields]
    found = [c for c in calls if isinstance(c, ast.Call) and c.name in NAMES]
    if not found:
        return None
    if len(found) > 1:
        raise QueryError("top() and bottom() cannot be combined with other functions")
    call = found[0]
    for other in calls:
        if other is not call and not isinstance(other, ast.VarRef):
            raise QueryError(
                f"selector function {call.name}() cannot be combined with other functions"
            )
    if call.name == "sample" and len(call.args) != 2:
        got = len(call.args)
        raise QueryError(f"invalid number of arguments for sample, expected 2, got {got}")
    if len(call.args) < 2:
        raise QueryError(f"invalid number of arguments for {call.name}, expected at least 2")
    if not isinstance(unwrap(call.args[0]), ast.VarRef):
        raise QueryError(f"expected first argument to be a field in {call.name}()")
    for arg in call.args[1:-1]:
        if not isinstance(unwrap(arg), ast.VarRef):
            raise QueryError(f"only fields or tags are allowed in {call.name}()")
    limit = unwrap(call.args[-1])
    if not isinstance(limit, ast.NumberLit) or not float(limit.value).is_integer():
        raise QueryError(f"expected integer as last argument in {call.name}()")
    if int(limit.value) <= 0 and call.name == "sample":
        raise QueryError(f"sample window must be greater than 1, got {int(limit.value)}")
    if int(limit.value) <= 0:
        raise QueryError(f"limit ({int(limit.value)}) in {call.name} function must be at least 1")
    return call


def tag_arguments(call: ast.Call) -> list[str]:
    """The tag names between the field and N, each once."""
    out: list[str] = []
    for arg in call.args[1:-1]:
        name = unwrap(arg).name  # type: ignore[union-attr]
        if name not in out:
            out.append(name)
    return out


def run_top(query: Query) -> list[Series]:
    """The series one source contributes to a top/bottom SELECT."""
    call = query.shape.selector_n
    assert call is not None
    compiler = RowCompiler(query.source.info, query.now)
    value = compiler.value(call.args[0])
    if value.type in (None, "tag") or (
        call.name != "sample" and value.type in ("string", "boolean")
    ):
        return []
    limit = int(unwrap(call.args[-1]).value)  # type: ignore[union-attr]
    tags = tag_arguments(call)
    outputs: list[Typed] = []
    for f in query.shape.fields:
        expr = unwrap(f.expr)
        if expr is call:
            outputs.append(value)
            outputs += [compiler.value(ast.VarRef(t)) for t in tags]
        else:
            outputs.append(compiler.value(expr))
    direction = "DESC" if call.name == "top" else "ASC"
    grouping = query.shape.time_group
    partition = [quote_identifier(t) for t in query.groups if t in query.source.info.tags]
    if grouping is not None:
        partition.append(bin_sql(query))  # type: ignore[arg-type]
    columns = [f"{TIME} AS {quote_identifier(TIME_KEY)}", *group_select(query)]
    columns += [f"{t.sql} AS {quote_identifier(f'__c{i}')}" for i, t in enumerate(outputs)]
    rows = (
        f"SELECT {', '.join(columns)}, {value.sql} AS __v, {TIME} AS __t"
        + "".join(
            f", {quote_identifier(t)} AS {quote_identifier(f'__a{i}')}" for i, t in enumerate(tags)
        )
        + f" FROM {query.source.ref} WHERE ({query.where}) AND {value.sql} IS NOT NULL"
    )
    order = f"__v {direction}, __t ASC" if call.name != "sample" else "random()"
    if tags:
        per_tags = ", ".join([*partition_names(len(partition)), *_tag_keys(tags)])
        rows = (
            f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {per_tags} "
            f"ORDER BY {order}) AS __r0 FROM ({_with_partition(rows, partition)})) WHERE __r0 = 1"
        )
    else:
        rows = _with_partition(rows, partition)
    window = ", ".join(partition_names(len(partition)))
    over = f"PARTITION BY {window} ORDER BY {order}" if window else f"ORDER BY {order}"
    keys = [quote_identifier(k) for k in group_keys(query)]
    time_order = f"{quote_identifier(TIME_KEY)} {'DESC' if query.stmt.descending else 'ASC'}"
    sql = (
        f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER ({over}) AS __r FROM ({rows})) "
        f"WHERE __r <= {limit} ORDER BY {', '.join([*keys, time_order, '__r'])}"
    )
    table = query.source.run(sql)
    ids = group_ids(table, group_keys(query))
    mask = limit_mask(ids, query.stmt.limit, query.stmt.offset)
    if mask is not None:
        table, ids = table.filter(pa.array(mask)), ids[mask]
    return to_series(query, table, np.asarray(ids), [f"__c{i}" for i in range(len(outputs))])


def partition_names(count: int) -> list[str]:
    return [f"__p{i}" for i in range(count)]


def _tag_keys(tags: list[str]) -> list[str]:
    return [quote_identifier(f"__a{i}") for i in range(len(tags))]


def _with_partition(rows: str, partition: list[str]) -> str:
    """``rows`` with the window's partition columns added as ``__p0..``."""
    if not partition:
        return rows
    names = partition_names(len(partition))
    extra = ", ".join(f"{p} AS {n}" for p, n in zip(partition, names, strict=True))
    head, _, tail = rows.partition(" FROM ")
    return f"{head}, {extra} FROM {tail}"
