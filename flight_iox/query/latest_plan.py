"""Whether a query reads its table only through "the latest row per group": decided on the plan.

Lastpoint is written in natural SQL in three ways, and all of them scan the whole table:

- ``SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC``;
- ``... row_number() OVER (PARTITION BY hostname ORDER BY time DESC) AS rn ... WHERE rn = 1``;
- ``cpu JOIN (SELECT hostname, max(time) AS t FROM cpu GROUP BY hostname) m
  ON cpu.hostname = m.hostname AND cpu.time = m.t``.

Each keeps, per group of rows with equal values of some tag columns K, the row(s) with the
greatest ``time``. A series (one tag set) lies wholly inside one such group, so the group's
latest rows are latest rows of their series: the answer over the whole table equals the answer
over the latest row of each series (``last_cache.py``), which the server keeps current. Ties
on time between series of one group are all kept in those rows, so a tie is broken the same
way over either input (and where DataFusion breaks it arbitrarily, it does so in both).

``latest_table`` walks DataFusion's unoptimised logical plan and returns the table when every
scan of it feeds one of those shapes, through nothing but column renames and filters on tag
columns (a filter on a field or on time before the "latest" step changes which row is latest,
so it stops the proof). Anything it does not recognise makes it answer None, and the query
runs as planned: the proof may only lose speed, never change an answer.

The Python bindings do not expose a ``DistinctOn`` node's expressions, so its one-line
rendering is read, and every name in it must be a column of its input, spelled exactly as
DataFusion spells it; any other spelling means no rewrite.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from datafusion import Expr, LogicalPlan

from flight_iox.columns import TIME_COLUMN

# (qualifier, name) of a plan's output column, as Column expressions refer to it.
Key = tuple[str | None, str]


class _NotLatest(Exception):
    """The plan reads the table some other way: no rewrite."""


class Kind(enum.Enum):
    """What a sub-plan's rows are, relative to the table ``T`` and its latest rows ``L(T)``."""

    RAW = "rows of T, filtered on tag columns only"
    CLOSED = "the same over T and over L(T)"


@dataclass(frozen=True)
class Lineage:
    """What one output column is: a column of T, a latest-rank, or a latest time per group."""

    role: str  # "column", "rank" (row_number is 1 on the latest row per ``group``), "max_time"
    base: str = ""  # the column of T, for "column"
    group: frozenset[str] = frozenset()  # the tag columns, for "rank" and "max_time"


@dataclass
class _Rows:
    kind: Kind
    columns: list[tuple[Key, Lineage | None]] = field(default_factory=list)

    def find(self, key: Key) -> Lineage | None:
        """The lineage of the column ``key`` names (None when unknown or ambiguous)."""
        found = [ln for (rel, name), ln in self.columns if name == key[1] and key[0] in (None, rel)]
        return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class Table:
    """The table the proof is about: its plan spelling is resolved by ``resolve``."""

    name: str
    columns: tuple[str, ...]  # in the table's order, as an unprojected scan yields them
    tags: frozenset[str]


Resolve = Callable[[tuple[str | None, str | None, str]], "Table | None"]
Views = Callable[[LogicalPlan], "Table | None"]


def latest_table(plan: LogicalPlan, resolve: Resolve, views: Views | None = None) -> Table | None:
    """The table whose every scan feeds a latest-row-per-group step, or None.

    ``resolve`` maps a scan's (catalog, schema, table) to a user table of the query's
    default database (None for anything else: the proof covers one user table); ``views``
    maps an inlined view's plan to that table when the view is the server's own provider
    of it (a table with files).
    """
    walker = _Walker(resolve, views or (lambda _: None))
    try:
        rows = walker.walk(plan)
    except _NotLatest:
        return None
    if rows.kind is not Kind.CLOSED or walker.table is None:
        return None
    # Subqueries in expressions hold scans that ``inputs()`` does not show: count them all.
    scans = sum(
        1 for line in plan.display_indent().splitlines() if line.lstrip().startswith("TableScan:")
    )
    return walker.table if scans == walker.scans else None


class _Walker:
    def __init__(self, resolve: Resolve, views: Views) -> None:
        self._resolve = resolve
        self._views = views
        self.table: Table | None = None
        self.scans = 0

    def walk(self, plan: LogicalPlan) -> _Rows:
        node = plan.to_variant()
        kind = type(node).__name__
        if kind == "TableScan":
            return self._scan(node)
        if kind == "SubqueryAlias":
            view = self._view(plan, node.alias())
            if view is not None:
                return view
        inputs = [self.walk(child) for child in plan.inputs()]
        if kind == "SubqueryAlias":
            alias = node.alias()
            return _Rows(inputs[0].kind, [((alias, k[1]), ln) for k, ln in inputs[0].columns])
        handler = _HANDLERS.get(kind)
        if handler is not None and inputs and inputs[0].kind is Kind.RAW:
            return handler(self, plan, node, inputs)
        if kind == "Join" and any(i.kind is Kind.RAW for i in inputs):
            return self._join(node, inputs)
        if any(i.kind is Kind.RAW for i in inputs):
            raise _NotLatest(kind)
        return _Rows(Kind.CLOSED, _carry(kind, node, inputs))

    def _view(self, plan: LogicalPlan, alias: str) -> _Rows | None:
        """A table with files: DataFusion inlines its view, ``SubqueryAlias: <name>`` over
        the view's own plan, which the server recognises (``Views``)."""
        body = plan.inputs()[0]
        scratch = _scratch_scans(body)
        if not scratch or any(self._resolve((None, None, name)) for name in scratch):
            return None  # not over scratch tables only (a user table named like one included)
        table = self._views(body)
        if table is None:
            return None  # a statement's own subquery over a view: walked through
        rows = self._take(table, alias)
        self.scans += len(scratch)
        return rows

    def _scan(self, node: Any) -> _Rows:
        table = self._resolve(node.fqn())
        if node.filters() or node.fetch() is not None or node.projection():
            raise _NotLatest("scan with pushed-down filters or projection")
        if table is None:
            raise _NotLatest("another table")
        self.scans += 1
        return self._take(table, node.table_name())

    def _take(self, table: Table, relation: str) -> _Rows:
        if self.table is not None and table != self.table:
            raise _NotLatest("another table")
        self.table = table
        return _Rows(Kind.RAW, [((relation, n), Lineage("column", n)) for n in table.columns])

    # --- over RAW rows ---------------------------------------------------------------------

    def _projection(self, plan: LogicalPlan, node: Any, inputs: list[_Rows]) -> _Rows:
        rows = inputs[0]
        out: list[tuple[Key, Lineage | None]] = []
        for expr in node.projections():
            key, lineage = _renamed(expr, rows)
            if lineage is None:
                raise _NotLatest("computed column before the latest step")
            out.append((key, lineage))
        return _Rows(Kind.RAW, out)

    def _filter(self, plan: LogicalPlan, node: Any, inputs: list[_Rows]) -> _Rows:
        """``rank = 1`` makes the rows latest (any other condition then tests a latest row);
        without it, only conditions on tag columns keep the rows raw."""
        rows = inputs[0]
        conjuncts = list(_conjuncts(node.predicate()))
        if any(_rank_is_one(c, rows) for c in conjuncts):
            return _Rows(Kind.CLOSED, rows.columns)
        if all(self._on_tags(c, rows) for c in conjuncts):
            return rows
        raise _NotLatest("filter on a field or on time before the latest step")

    def _on_tags(self, expr: Expr, rows: _Rows) -> bool:
        assert self.table is not None
        refs = _references(expr)
        if refs is None:
            return False
        for ref in refs:
            lineage = rows.find(ref)
            if lineage is None or lineage.role != "column" or lineage.base not in self.table.tags:
                return False
        return True

    def _window(self, plan: LogicalPlan, node: Any, inputs: list[_Rows]) -> _Rows:
        rows = inputs[0]
        out = list(rows.columns)
        for expr in node.get_window_expr():
            if node.window_func_name(expr) != "row_number":
                raise _NotLatest("another window function")
            group = self._tag_set(node.get_partition_exprs(expr), rows)
            order = node.get_sort_exprs(expr)
            if not order or order[0].ascending() or not self._is_time(order[0].expr(), rows):
                raise _NotLatest("window not ordered by time descending")
            out.append(((None, expr.schema_name()), Lineage("rank", group=group)))
        return _Rows(Kind.RAW, out)

    def _aggregate(self, plan: LogicalPlan, node: Any, inputs: list[_Rows]) -> _Rows:
        rows = inputs[0]
        groups = node.group_by_exprs()
        group = self._tag_set(groups, rows)
        out: list[tuple[Key, Lineage | None]] = [
            (_key(g), rows.find(_key(g))) for g in groups if g.variant_name() == "Column"
        ]
        for expr in node.aggregate_exprs():
            function = expr.to_variant()
            args = function.args()
            if (
                function.aggregate_type() != "max"
                or function.is_distinct()
                or len(args) != 1
                or not self._is_time(args[0], rows)
                # FILTER (WHERE ..) and ORDER BY are not exposed: the name shows them.
                or expr.schema_name() != f"max({args[0].schema_name()})"
            ):
                raise _NotLatest("an aggregate other than max(time)")
            out.append(((None, expr.schema_name()), Lineage("max_time", group=group)))
        return _Rows(Kind.CLOSED, out)

    def _distinct(self, plan: LogicalPlan, node: Any, inputs: list[_Rows]) -> _Rows:
        rows = inputs[0]
        line = plan.display()
        if not line.startswith("DistinctOn: "):  # DISTINCT over tag columns only is closed too
            tags = self.table.tags if self.table else frozenset()
            if all(ln and ln.role == "column" and ln.base in tags for _, ln in rows.columns):
                return _Rows(Kind.CLOSED, rows.columns)
            raise _NotLatest("DISTINCT over fields")
        on, sort = _distinct_on_parts(line)
        names = _spellings(plan.inputs()[0], rows)
        on_keys = [names.get(text) for text in on]
        if None in on_keys or len(sort) <= len(on):
            raise _NotLatest("DISTINCT ON not understood")
        self._tag_set_keys([k for k in on_keys if k is not None], rows)
        for text in sort[: len(on)]:
            if _sort_column(text)[0] not in on:
                raise _NotLatest("DISTINCT ON sorted by another column first")
        column, descending = _sort_column(sort[len(on)])
        time_key = names.get(column)
        if not descending or time_key is None or not self._is_time_key(time_key, rows):
            raise _NotLatest("DISTINCT ON not ordered by time descending")
        return _Rows(Kind.CLOSED, rows.columns)

    def _join(self, node: Any, inputs: list[_Rows]) -> _Rows:
        """The max(time) join: raw rows of T inner-joined to max(time) per tag group."""
        if str(node.join_type()) != "Inner" or len(inputs) != 2:
            raise _NotLatest("not an inner join")
        raw, maxima = inputs if inputs[0].kind is Kind.RAW else inputs[::-1]
        if maxima.kind is not Kind.CLOSED:
            raise _NotLatest("join of two raw scans")
        pairs = [(left, right) for left, right in node.on()]
        filtered = node.filter()
        for conjunct in _conjuncts(filtered) if filtered is not None else []:
            if conjunct.variant_name() == "BinaryExpr":
                binary = conjunct.to_variant()
                if binary.op() == "=":
                    pairs.append((binary.left(), binary.right()))
        matched: set[str] = set()
        times: set[frozenset[str]] = set()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x.variant_name() != "Column" or y.variant_name() != "Column":
                    continue
                mine, theirs = raw.find(_key(x)), maxima.find(_key(y))
                if mine is None or theirs is None or mine.role != "column":
                    continue
                if theirs.role == "column" and theirs.base == mine.base:
                    matched.add(mine.base)
                elif theirs.role == "max_time" and mine.base == TIME_COLUMN:
                    times.add(theirs.group)
        if not any(group <= matched for group in times):
            raise _NotLatest("join not on the group's tags and its max(time)")
        return _Rows(Kind.CLOSED, raw.columns + maxima.columns)

    # --- helpers ---------------------------------------------------------------------------

    def _tag_set(self, exprs: list[Expr], rows: _Rows) -> frozenset[str]:
        keys = []
        for expr in exprs:
            if expr.variant_name() != "Column":
                raise _NotLatest("grouped by an expression")
            keys.append(_key(expr))
        return self._tag_set_keys(keys, rows)

    def _tag_set_keys(self, keys: list[Key], rows: _Rows) -> frozenset[str]:
        assert self.table is not None
        group = set()
        for key in keys:
            lineage = rows.find(key)
            if lineage is None or lineage.role != "column" or lineage.base not in self.table.tags:
                raise _NotLatest("grouped by a column that is not a tag")
            group.add(lineage.base)
        return frozenset(group)

    def _is_time(self, expr: Expr, rows: _Rows) -> bool:
        return expr.variant_name() == "Column" and self._is_time_key(_key(expr), rows)

    @staticmethod
    def _is_time_key(key: Key, rows: _Rows) -> bool:
        lineage = rows.find(key)
        return lineage is not None and lineage.role == "column" and lineage.base == TIME_COLUMN


_Handler = Callable[[_Walker, LogicalPlan, Any, list[_Rows]], _Rows]
_HANDLERS: dict[str, _Handler] = {
    "Projection": _Walker._projection,
    "Filter": _Walker._filter,
    "WindowExpr": _Walker._window,
    "Aggregate": _Walker._aggregate,
    "Distinct": _Walker._distinct,
}


SCRATCH_PREFIX = "__iox_scratch_"  # tables.py's names for a view's sources


def _scratch_scans(plan: LogicalPlan) -> list[str]:
    """The scans under ``plan`` when all are of scratch tables (else none)."""
    found: list[str] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        variant = node.to_variant()
        if type(variant).__name__ == "TableScan":
            catalog, schema, name = variant.fqn()
            if catalog is not None or schema is not None or not name.startswith(SCRATCH_PREFIX):
                return []
            found.append(name)
        stack.extend(node.inputs())
    return found


def _key(expr: Expr) -> Key:
    column = expr.to_variant()
    return (column.relation(), column.name())


def _renamed(expr: Expr, rows: _Rows) -> tuple[Key, Lineage | None]:
    """A projection item that only passes a column on (perhaps renamed)."""
    if expr.variant_name() == "Column":
        return _key(expr), rows.find(_key(expr))
    if expr.variant_name() == "Alias":
        alias = expr.to_variant()
        inner = alias.expr()
        if inner.variant_name() == "Column":
            return (None, alias.alias()), rows.find(_key(inner))
    return (None, expr.schema_name()), None


def _carry(kind: str, node: Any, inputs: list[_Rows]) -> list[tuple[Key, Lineage | None]]:
    """Output columns of a node over CLOSED rows (only renames keep their lineage)."""
    if kind == "Projection":
        return [_renamed(expr, inputs[0]) for expr in node.projections()]
    if kind in ("Filter", "Sort", "Limit", "Distinct"):
        return inputs[0].columns
    return []


def _conjuncts(expr: Expr) -> Iterator[Expr]:
    if expr.variant_name() == "BinaryExpr" and expr.to_variant().op().upper() == "AND":
        binary = expr.to_variant()
        yield from _conjuncts(binary.left())
        yield from _conjuncts(binary.right())
    else:
        yield expr


def _references(expr: Expr) -> list[Key] | None:
    """Every column ``expr`` reads; None if it holds a subquery or anything not understood."""
    variant = expr.variant_name()
    if variant == "Column":
        return [_key(expr)]
    if variant in ("Literal", "Placeholder"):  # a bound parameter ($1, ?) reads no column
        return []
    if variant in ("InSubquery", "ScalarSubquery", "Exists", "OuterReferenceColumn"):
        return None
    if str(expr.rex_type()).endswith(("Call", "Alias")):
        refs: list[Key] = []
        for operand in expr.rex_call_operands():
            inner = _references(operand)
            if inner is None:
                return None
            refs.extend(inner)
        return refs
    return None


def _rank_is_one(expr: Expr, rows: _Rows) -> bool:
    """``rank = 1`` (either way round) on a row_number latest-rank column."""
    if expr.variant_name() != "BinaryExpr" or expr.to_variant().op() != "=":
        return False
    binary = expr.to_variant()
    for column, literal in ((binary.left(), binary.right()), (binary.right(), binary.left())):
        if column.variant_name() == "Column" and literal.variant_name() == "Literal":
            lineage = rows.find(_key(column))
            if lineage is not None and lineage.role == "rank" and _literal(literal) == 1:
                return True
    return False


def _literal(expr: Expr) -> object:
    value = expr.python_value()
    return value.as_py() if hasattr(value, "as_py") else value


def _distinct_on_parts(line: str) -> tuple[list[str], list[str]]:
    """The on and sort expressions of a ``DistinctOn`` node's rendering, as spelled there."""
    try:
        head, rest = line.removeprefix("DistinctOn: on_expr=[[").split("]], select_expr=[[", 1)
        _, sort = rest.split("]], sort_expr=[[", 1)
    except ValueError as error:
        raise _NotLatest("DISTINCT ON rendering") from error
    if not sort.endswith("]]"):
        raise _NotLatest("DISTINCT ON without ORDER BY")
    return head.split(", "), sort[:-2].split(", ")


def _sort_column(text: str) -> tuple[str, bool]:
    """``col DESC NULLS FIRST`` -> (col, descending)."""
    for suffix in (" NULLS FIRST", " NULLS LAST"):
        text = text.removesuffix(suffix)
    if text.endswith(" DESC"):
        return text.removesuffix(" DESC"), True
    return text.removesuffix(" ASC"), False


def _spellings(plan: LogicalPlan, rows: _Rows) -> dict[str, Key]:
    """How DataFusion renders each input column (``rel.name``), when that is unambiguous."""
    spelled: dict[str, Key] = {}
    seen: set[str] = set()
    for (relation, name), _ in rows.columns:
        if any(c in name for c in ", []") or (relation and any(c in relation for c in ", []")):
            continue  # a name the rendering could not tell apart
        text = f"{relation}.{name}" if relation else name
        if text in seen:
            spelled.pop(text, None)
        else:
            spelled[text] = (relation, name)
        seen.add(text)
    return spelled
