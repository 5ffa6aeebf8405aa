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

from collections.abc import Callable
from typing import Any

from datafusion import Expr, LogicalPlan

from flight_iox.columns import TIME_COLUMN
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.plan_lineage import (
    Key,
    Kind,
    Lineage,
    NotLatest,
    Rows,
    Table,
    carry,
    column_key,
    conjuncts,
    distinct_on_parts,
    rank_is_one,
    references,
    renamed,
    scratch_scans,
    sort_column,
    spellings,
)

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
    except NotLatest:
        return None
    except Exception as error:  # the bindings refuse an expression they do not implement
        if not is_engine_error(error):
            raise
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

    def walk(self, plan: LogicalPlan) -> Rows:
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
            return Rows(inputs[0].kind, [((alias, k[1]), ln) for k, ln in inputs[0].columns])
        handler = _HANDLERS.get(kind)
        if handler is not None and inputs and inputs[0].kind is Kind.RAW:
            return handler(self, plan, node, inputs)
        if kind == "Join" and any(i.kind is Kind.RAW for i in inputs):
            return self._join(node, inputs)
        if any(i.kind is Kind.RAW for i in inputs):
            raise NotLatest(kind)
        return Rows(Kind.CLOSED, carry(kind, node, inputs))

    def _view(self, plan: LogicalPlan, alias: str) -> Rows | None:
        """A table with files: DataFusion inlines its view, ``SubqueryAlias: <name>`` over
        the view's own plan, which the server recognises (``Views``)."""
        body = plan.inputs()[0]
        scratch = scratch_scans(body)
        if not scratch or any(self._resolve((None, None, name)) for name in scratch):
            return None  # not over scratch tables only (a user table named like one included)
        table = self._views(body)
        if table is None:
            return None  # a statement's own subquery over a view: walked through
        rows = self._take(table, alias)
        self.scans += len(scratch)
        return rows

    def _scan(self, node: Any) -> Rows:
        table = self._resolve(node.fqn())
        if node.filters() or node.fetch() is not None or node.projection():
            raise NotLatest("scan with pushed-down filters or projection")
        if table is None:
            raise NotLatest("another table")
        self.scans += 1
        return self._take(table, node.table_name())

    def _take(self, table: Table, relation: str) -> Rows:
        if self.table is not None and table != self.table:
            raise NotLatest("another table")
        self.table = table
        return Rows(Kind.RAW, [((relation, n), Lineage("column", n)) for n in table.columns])

    # --- over RAW rows ---------------------------------------------------------------------

    def _projection(self, plan: LogicalPlan, node: Any, inputs: list[Rows]) -> Rows:
        rows = inputs[0]
        out: list[tuple[Key, Lineage | None]] = []
        for expr in node.projections():
            key, lineage = renamed(expr, rows)
            if lineage is None:
                raise NotLatest("computed column before the latest step")
            out.append((key, lineage))
        return Rows(Kind.RAW, out)

    def _filter(self, plan: LogicalPlan, node: Any, inputs: list[Rows]) -> Rows:
        """``rank = 1`` makes the rows latest (any other condition then tests a latest row);
        without it, only conditions on tag columns keep the rows raw."""
        rows = inputs[0]
        parts = list(conjuncts(node.predicate()))
        if any(rank_is_one(c, rows) for c in parts):
            return Rows(Kind.CLOSED, rows.columns)
        if all(self._on_tags(c, rows) for c in parts):
            return rows
        raise NotLatest("filter on a field or on time before the latest step")

    def _on_tags(self, expr: Expr, rows: Rows) -> bool:
        assert self.table is not None
        refs = references(expr)
        if refs is None:
            return False
        for ref in refs:
            lineage = rows.find(ref)
            if lineage is None or lineage.role != "column" or lineage.base not in self.table.tags:
                return False
        return True

    def _window(self, plan: LogicalPlan, node: Any, inputs: list[Rows]) -> Rows:
        rows = inputs[0]
        out = list(rows.columns)
        for expr in node.get_window_expr():
            if node.window_func_name(expr) != "row_number":
                raise NotLatest("another window function")
            group = self._tag_set(node.get_partition_exprs(expr), rows)
            order = node.get_sort_exprs(expr)
            if not order or order[0].ascending() or not self._is_time(order[0].expr(), rows):
                raise NotLatest("window not ordered by time descending")
            out.append(((None, expr.schema_name()), Lineage("rank", group=group)))
        return Rows(Kind.RAW, out)

    def _aggregate(self, plan: LogicalPlan, node: Any, inputs: list[Rows]) -> Rows:
        rows = inputs[0]
        groups = node.group_by_exprs()
        group = self._tag_set(groups, rows)
        keys = [column_key(g) for g in groups]  # all columns: _tag_set checked
        out: list[tuple[Key, Lineage | None]] = [(k, rows.find(k)) for k in keys]
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
                raise NotLatest("an aggregate other than max(time)")
            out.append(((None, expr.schema_name()), Lineage("max_time", group=group)))
        return Rows(Kind.CLOSED, out)

    def _distinct(self, plan: LogicalPlan, node: Any, inputs: list[Rows]) -> Rows:
        rows = inputs[0]
        line = plan.display()
        if not line.startswith("DistinctOn: "):  # DISTINCT over tag columns only is closed too
            tags = self.table.tags if self.table else frozenset()
            if all(ln and ln.role == "column" and ln.base in tags for _, ln in rows.columns):
                return Rows(Kind.CLOSED, rows.columns)
            raise NotLatest("DISTINCT over fields")
        on, sort = distinct_on_parts(line)
        names = spellings(plan.inputs()[0], rows)
        on_keys = [names.get(text) for text in on]
        if None in on_keys or len(sort) <= len(on):
            raise NotLatest("DISTINCT ON not understood")
        self._tag_set_keys([k for k in on_keys if k is not None], rows)
        for text in sort[: len(on)]:
            if sort_column(text)[0] not in on:
                raise NotLatest("DISTINCT ON sorted by another column first")
        column, descending = sort_column(sort[len(on)])
        time_key = names.get(column)
        if not descending or time_key is None or not self._is_timekey(time_key, rows):
            raise NotLatest("DISTINCT ON not ordered by time descending")
        return Rows(Kind.CLOSED, rows.columns)

    def _join(self, node: Any, inputs: list[Rows]) -> Rows:
        """The max(time) join: raw rows of T inner-joined to max(time) per tag group."""
        if str(node.join_type()) != "Inner" or len(inputs) != 2:
            raise NotLatest("not an inner join")
        raw, maxima = inputs if inputs[0].kind is Kind.RAW else inputs[::-1]
        if maxima.kind is not Kind.CLOSED:
            raise NotLatest("join of two raw scans")
        pairs = [(left, right) for left, right in node.on()]
        filtered = node.filter()
        for conjunct in conjuncts(filtered) if filtered is not None else []:
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
                mine, theirs = raw.find(column_key(x)), maxima.find(column_key(y))
                if mine is None or theirs is None or mine.role != "column":
                    continue
                if theirs.role == "column" and theirs.base == mine.base:
                    matched.add(mine.base)
                elif theirs.role == "max_time" and mine.base == TIME_COLUMN:
                    times.add(theirs.group)
        if not any(group <= matched for group in times):
            raise NotLatest("join not on the group's tags and its max(time)")
        return Rows(Kind.CLOSED, raw.columns + maxima.columns)

    # --- helpers ---------------------------------------------------------------------------

    def _tag_set(self, exprs: list[Expr], rows: Rows) -> frozenset[str]:
        keys = []
        for expr in exprs:
            if expr.variant_name() != "Column":
                raise NotLatest("grouped by an expression")
            keys.append(column_key(expr))
        return self._tag_set_keys(keys, rows)

    def _tag_set_keys(self, keys: list[Key], rows: Rows) -> frozenset[str]:
        assert self.table is not None
        group = set()
        for key in keys:
            lineage = rows.find(key)
            if lineage is None or lineage.role != "column" or lineage.base not in self.table.tags:
                raise NotLatest("grouped by a column that is not a tag")
            group.add(lineage.base)
        return frozenset(group)

    def _is_time(self, expr: Expr, rows: Rows) -> bool:
        return expr.variant_name() == "Column" and self._is_timekey(column_key(expr), rows)

    @staticmethod
    def _is_timekey(key: Key, rows: Rows) -> bool:
        lineage = rows.find(key)
        return lineage is not None and lineage.role == "column" and lineage.base == TIME_COLUMN


_Handler = Callable[[_Walker, LogicalPlan, Any, list[Rows]], Rows]
_HANDLERS: dict[str, _Handler] = {
    "Projection": _Walker._projection,
    "Filter": _Walker._filter,
    "WindowExpr": _Walker._window,
    "Aggregate": _Walker._aggregate,
    "Distinct": _Walker._distinct,
}
