"""Whether a statement is an aggregate that per-file partial aggregates can answer: on the plan.

``partial_shape`` walks DataFusion's unoptimised logical plan and accepts exactly

    [Limit: literal skip and fetch, only over a Sort]
      [Sort: output columns, any direction and null placement]
        [Projection of output columns only, renamed or not]
          Aggregate: groupBy=[plain non-float columns | date_bin(literal, time[, literal])],
                     aggr=[count(*) | count(c) | sum(c) | min(c) | max(c) | avg(c)]
            [Filter: no subquery, no placeholder, no time or random function]*
              [SubqueryAlias]* over one user table (a scan, or the server's view of it)

where date_bin's literals may be cast (``TIMESTAMP '..'`` is planned as a cast of a string).

For such a statement, the aggregate over a table equals the aggregate of per-source partial
states (count, sum, min, max; avg as a sum and a count), because every row of the table
belongs to exactly one source once the sources that may share a key are taken together
(``partial_aggs.py``). Anything the walker does not recognise answers None, and the plan runs
as made: the proof may only lose speed, never change an answer.

FILTER (WHERE ..), ORDER BY and DISTINCT inside an aggregate are not all exposed by the
bindings; an aggregate whose DataFusion name is not exactly ``f(arg)`` is refused, as in
``latest_plan.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from datafusion import Expr, LogicalPlan

from flight_iox.columns import TIME_COLUMN
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.plan_lineage import scratch_scans

# (catalog, schema, table) of a scan -> the user table's name and schema, else None
Resolve = Callable[[tuple[str | None, str | None, str]], "tuple[str, pa.Schema] | None"]
# A view's plan -> the user table it is the server's provider of, else None
Views = Callable[[LogicalPlan], "tuple[str, pa.Schema] | None"]

KINDS = frozenset({"count", "sum", "min", "max", "avg"})
# Expression nodes whose value depends on their operands only (functions: see below).
_PURE = frozenset(
    {
        "BinaryExpr", "Column", "Literal", "InList", "Between", "Like", "SimilarTo", "Cast",
        "TryCast", "Case", "Not", "IsNull", "IsNotNull", "IsTrue", "IsFalse", "IsUnknown",
        "IsNotTrue", "IsNotFalse", "IsNotUnknown", "Negative", "ScalarFunction",
    }
)  # fmt: skip
# Functions whose value is not fixed by their operands (planning time, randomness, ours).
_UNSTABLE = frozenset({"now", "current_date", "current_time", "random", "uuid"})
_AVERAGED = (pa.types.is_integer, pa.types.is_floating)


class NotPartial(Exception):
    """The statement is not one the partial aggregates answer."""


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of the statement: its kind and its DataFusion expression."""

    kind: str  # one of KINDS
    expr: Expr  # as planned (count(*) is count(Int64(1)))
    arg: Expr
    floating: bool = False  # min or max of a float column (see ``partial_final.py``)


@dataclass(frozen=True)
class PartialShape:
    """What the partial aggregates need of a proven statement."""

    table: str
    alias: str  # the relation its columns are qualified by
    predicates: tuple[Expr, ...]
    groups: tuple[Expr, ...]
    aggregates: tuple[Aggregate, ...]
    outputs: tuple[int, ...]  # per output column, its index in groups + aggregates
    key: str  # the partial statement, normalised: what a cached partial was computed for
    order: tuple[SortKey, ...] = ()  # ORDER BY over the output columns
    skip: int = 0  # OFFSET, after the order
    fetch: int | None = None  # LIMIT, after the order

    @property
    def counts_rows(self) -> bool:
        """Whether the statement counts the table's rows and nothing else (``count(*)``, no
        filter, no group): DataFusion answers that from a memory table's statistics,
        reading no row."""
        return not (self.groups or self.predicates) and all(
            a.kind == "count" and a.arg.variant_name() == "Literal" for a in self.aggregates
        )


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: an output column, its direction and where its nulls go."""

    column: int
    ascending: bool
    nulls_first: bool


def partial_shape(plan: LogicalPlan, resolve: Resolve, views: Views) -> PartialShape | None:
    """The shape of ``plan`` when per-file partial aggregates can answer it, else None."""
    try:
        return _shape(plan, resolve, views)
    except NotPartial:
        return None
    except Exception as error:  # the bindings refuse an expression they do not implement
        if not is_engine_error(error):
            raise
        return None


def _shape(plan: LogicalPlan, resolve: Resolve, views: Views) -> PartialShape:
    top = plan
    skip, fetch = 0, None
    if _kind(top) == "Limit":
        limit = top.to_variant()
        skip, fetch = _count(limit.skip()) or 0, _count(limit.fetch())
        top = top.inputs()[0]
        if _kind(top) != "Sort":
            raise NotPartial("a limit without an order: any rows would do, but not ours")
    sorts = []
    if _kind(top) == "Sort":
        node = top.to_variant()
        if node.get_fetch_val() is not None:
            raise NotPartial("a sort with its own fetch")
        sorts = list(node.sort_exprs())
        top = top.inputs()[0]
    projections: list[Expr] | None = None
    if _kind(top) == "Projection":
        projections = list(top.to_variant().projections())
        top = top.inputs()[0]
    if _kind(top) != "Aggregate":
        raise NotPartial("not an aggregate")
    node = top.to_variant()
    below = top.inputs()[0]
    predicates: list[Expr] = []
    while _kind(below) == "Filter":
        predicates.append(below.to_variant().predicate())
        below = below.inputs()[0]
    table, schema, alias, scans = _source(below, resolve, views)
    if "." in alias:
        raise NotPartial("a qualified relation name")
    in_plan = sum(
        1 for line in plan.display_indent().splitlines() if line.lstrip().startswith("TableScan:")
    )
    if in_plan != scans:
        raise NotPartial("another scan (a subquery)")
    for predicate in predicates:
        _check_pure(predicate, alias)
    groups = tuple(node.group_by_exprs())
    for group in groups:
        _check_group(group, alias, schema)
    aggregates = tuple(_aggregate(expr, alias, schema) for expr in node.aggregate_exprs())
    names = [g.schema_name() for g in groups] + [a.expr.schema_name() for a in aggregates]
    if projections is None:
        outputs = tuple(range(len(names)))
        keys = [_column_key(g) for g in groups] + [(None, n) for n in names[len(groups) :]]
    else:
        outputs = tuple(_output(expr, names) for expr in projections)
        keys = [_column_key(expr) for expr in projections]
    order = tuple(SortKey(_position(s.expr(), keys), s.ascending(), s.nulls_first()) for s in sorts)
    key = "\x1f".join(
        [
            table,
            alias,
            " AND ".join(p.canonical_name() for p in predicates),
            ",".join(g.canonical_name() for g in groups),
            ",".join(a.expr.canonical_name() for a in aggregates),
        ]
    )
    return PartialShape(
        table, alias, tuple(predicates), groups, aggregates, outputs, key, order, skip, fetch
    )  # fmt: skip


def _kind(plan: LogicalPlan) -> str:
    return type(plan.to_variant()).__name__


def _source(plan: LogicalPlan, resolve: Resolve, views: Views) -> tuple[str, pa.Schema, str, int]:
    """The user table under a chain of aliases: name, schema, relation name, scans read."""
    alias: str | None = None
    while True:
        node = plan.to_variant()
        kind = type(node).__name__
        if kind == "TableScan":
            found = resolve(node.fqn())
            if found is None or node.filters() or node.fetch() is not None or node.projection():
                raise NotPartial("not a plain scan of a user table")
            return found[0], found[1], alias or node.table_name(), 1
        if kind != "SubqueryAlias":
            raise NotPartial(f"{kind} between the table and the aggregate")
        alias = alias or node.alias()
        body = plan.inputs()[0]
        scratch = scratch_scans(body)
        if scratch and not any(resolve((None, None, name)) for name in scratch):
            view = views(body)
            if view is not None:
                return view[0], view[1], alias, len(scratch)
        plan = body


def _check_pure(expr: Expr, alias: str) -> None:
    """Refuse an expression whose value is not fixed by the row (or names another relation)."""
    variant = expr.variant_name()
    if variant == "Alias":
        return _check_pure(expr.rex_call_operands()[0], alias)
    if variant not in _PURE:
        raise NotPartial(f"{variant} in a filter")
    if variant == "Column":
        if expr.to_variant().relation() != alias:
            raise NotPartial("a column of another relation")
        return None
    if variant == "Literal":
        return None
    if variant == "ScalarFunction":
        name = expr.rex_call_operator()
        if name in _UNSTABLE or name.startswith("__"):
            raise NotPartial(f"{name}() in a filter")
    for operand in expr.rex_call_operands():
        _check_pure(operand, alias)
    return None


def _check_group(expr: Expr, alias: str, schema: pa.Schema) -> None:
    variant = expr.variant_name()
    if variant == "Column":
        _check_pure(expr, alias)
        index = schema.get_field_index(expr.to_variant().name())
        # DataFusion groups -0.0 with 0.0 and shows the sign of the first row it read.
        if index < 0 or pa.types.is_floating(schema.field(index).type):
            raise NotPartial("a float (or unknown) group key")
        return
    if variant != "ScalarFunction" or expr.rex_call_operator() != "date_bin":
        raise NotPartial("a group key other than a column or date_bin")
    operands = expr.rex_call_operands()
    time = operands[1] if len(operands) in (2, 3) else None
    if time is None or time.variant_name() != "Column" or time.to_variant().name() != TIME_COLUMN:
        raise NotPartial("date_bin over something other than time")
    _check_pure(time, alias)
    for index, operand in enumerate(operands):
        if index != 1:
            _check_constant(operand)


def _check_constant(expr: Expr) -> None:
    """A literal, or casts of one: ``TIMESTAMP '1970-01-01 00:00:00'`` is planned as
    ``CAST(Utf8(..) AS Timestamp(ns))``, the origin TSBS's SQL and most users write."""
    while expr.variant_name() in ("Cast", "TryCast"):
        expr = expr.rex_call_operands()[0]
    if expr.variant_name() != "Literal":
        raise NotPartial("date_bin with a computed interval or origin")


def _aggregate(expr: Expr, alias: str, schema: pa.Schema) -> Aggregate:
    if expr.variant_name() != "AggregateFunction":
        raise NotPartial("not a plain aggregate")
    function: Any = expr.to_variant()
    kind = function.aggregate_type()
    args = function.args()
    if kind not in KINDS or function.is_distinct() or len(args) != 1:
        raise NotPartial(f"aggregate {kind}")
    arg = args[0]
    # FILTER (WHERE ..) and ORDER BY are not exposed: the name shows them.
    if expr.schema_name() != f"{kind}({arg.schema_name()})":
        raise NotPartial("an aggregate with FILTER or ORDER BY")
    if arg.variant_name() == "Literal" and kind == "count":
        return Aggregate(kind, expr, arg)  # count(*) and count(<literal>)
    if arg.variant_name() != "Column":
        raise NotPartial("an aggregate of an expression")
    _check_pure(arg, alias)
    index = schema.get_field_index(arg.to_variant().name())
    if index < 0:
        raise NotPartial("an aggregate of an unknown column")
    data_type = schema.field(index).type
    if kind == "avg" and not any(test(data_type) for test in _AVERAGED):
        raise NotPartial("avg of a type other than integer or float")
    if kind == "sum" and not (pa.types.is_integer(data_type) or pa.types.is_floating(data_type)):
        raise NotPartial("sum of a type other than integer or float")
    return Aggregate(kind, expr, arg, kind in ("min", "max") and pa.types.is_floating(data_type))


def _output(expr: Expr, names: list[str]) -> int:
    """The aggregate column a projected column is (renamed or not, maybe twice)."""
    while expr.variant_name() == "Alias":
        expr = expr.rex_call_operands()[0]
    if expr.variant_name() != "Column" or expr.schema_name() not in names:
        raise NotPartial("a computed output column")
    return names.index(expr.schema_name())


def _count(expr: Expr | None) -> int | None:
    """A LIMIT or OFFSET's literal value (None: absent)."""
    if expr is None:
        return None
    value = expr.python_value() if expr.variant_name() == "Literal" else None
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if not isinstance(value, int) or value < 0:
        raise NotPartial("a computed limit")
    return value


def _column_key(expr: Expr) -> tuple[str | None, str]:
    """How a Sort above names an output column: (relation, name)."""
    if expr.variant_name() == "Alias":
        return None, expr.schema_name()
    if expr.variant_name() == "Column":
        column = expr.to_variant()
        return column.relation(), column.name()
    return None, expr.schema_name()


def _position(expr: Expr, keys: list[tuple[str | None, str]]) -> int:
    """The output column a sort key is (only plain output columns are understood)."""
    if expr.variant_name() != "Column":
        raise NotPartial("a computed sort key")
    column = expr.to_variant()
    relation, name = column.relation(), column.name()
    found = [i for i, (r, n) in enumerate(keys) if n == name and relation in (None, r)]
    if len(found) != 1:
        raise NotPartial("a sort key not among the output columns")
    return found[0]
