"""What a statement needs of each table it scans: columns, a time range, tag values.

A query node asks the ingest nodes for their unpersisted rows before it plans a statement
(``cluster/remote_rows.py``). Sending only what the statement can use is the pushdown:
the columns its scans project, and the rows that can pass the predicates DataFusion put
directly on each scan. Both are read from DataFusion's optimized logical plan
(``scan_plan.py`` makes it over empty tables of the known schemas), never from the text.

Why the answer stays exact:

- Columns: every tag and the time always travel (they are the row key, which
  deduplication needs), so dropping a field only nulls a column no scan reads.
  Deduplication is field by field, so a missing field never shadows another source's.
- Rows: only predicates on key columns are pushed (time ranges, tag equality and IN).
  Every version of a key passes or fails them alike, so filtering before deduplication
  removes whole keys the query's own filter removes after it.
- A table scanned twice (a self-join, a union) needs the union: every column either scan
  reads, and rows passing either predicate (the time hull; tags only where both scans
  restrict the tag, with the union of their values).

Anything not understood (an OR across columns, a function of a column, a placeholder) is
simply not pushed: the query's own filter still applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import Expr

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.query.engine_errors import is_engine_error

_AND, _OR = "AND", "OR"
# Comparison as written (column on the left) and with its sides swapped.
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


@dataclass(frozen=True)
class ScanNeeds:
    """What one table's scans need; None fields mean no restriction."""

    columns: frozenset[str] | None = None  # None: every column
    first: int | None = None  # first nanosecond, inclusive
    last: int | None = None  # last nanosecond, inclusive
    tags: tuple[tuple[str, frozenset[str]], ...] = ()  # tag -> values it may hold
    known: frozenset[str] | None = None  # the columns the requester planned with

    def union(self, other: ScanNeeds) -> ScanNeeds:
        """Needs that cover both (a table scanned twice)."""
        columns = (
            None if self.columns is None or other.columns is None else self.columns | other.columns
        )
        first = None if self.first is None or other.first is None else min(self.first, other.first)
        last = None if self.last is None or other.last is None else max(self.last, other.last)
        mine, theirs = dict(self.tags), dict(other.tags)
        tags = tuple(sorted((t, mine[t] | theirs[t]) for t in mine.keys() & theirs.keys()))
        known = None if self.known is None or other.known is None else self.known | other.known
        return ScanNeeds(columns, first, last, tags, known)

    def as_json(self) -> dict[str, Any]:
        """The request shape (``iox.cluster.rows``)."""
        return {
            "columns": None if self.columns is None else sorted(self.columns),
            "first": self.first,
            "last": self.last,
            "tags": {name: sorted(values) for name, values in self.tags},
            "known": None if self.known is None else sorted(self.known),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ScanNeeds:
        """Read ``as_json``'s shape."""
        columns = body.get("columns")
        first, last, known = body.get("first"), body.get("last"), body.get("known")
        return cls(
            None if columns is None else frozenset(str(c) for c in columns),
            None if first is None else int(first),
            None if last is None else int(last),
            tuple(sorted((str(k), frozenset(map(str, v))) for k, v in body["tags"].items())),
            None if known is None else frozenset(str(c) for c in known),
        )

    def apply(self, rows: pa.Table) -> pa.Table:
        """``rows`` cut to these needs: the key columns, the columns needed and any column
        the requester does not know yet (so ``SELECT *`` sees it); the rows that may pass."""
        keep = rows.num_rows > 0
        mask = None
        time = rows.column(TIME_COLUMN) if TIME_COLUMN in rows.column_names else None
        if time is not None and keep and (self.first is not None or self.last is not None):
            if self.first is not None:
                mask = pc.greater_equal(time, pa.scalar(self.first, time.type))
            if self.last is not None:
                below = pc.less_equal(time, pa.scalar(self.last, time.type))
                mask = below if mask is None else pc.and_(mask, below)
        for name, values in self.tags if keep else ():
            index = rows.schema.get_field_index(name)
            if index < 0:  # no such tag here: every row has none, and none can be equal
                hit: Any = pa.scalar(False)
            elif role_of(rows.schema.field(index)) is not ColumnRole.TAG:
                continue
            else:
                column = rows.column(index)
                plain = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
                hit = pc.fill_null(pc.is_in(plain, pa.array(sorted(values), pa.string())), False)
            mask = hit if mask is None else pc.and_(mask, hit)
        if mask is not None:
            rows = rows.filter(mask) if isinstance(mask, pa.ChunkedArray) else rows.slice(0, 0)
        if self.columns is None:
            return rows
        names = [
            f.name
            for f in rows.schema
            if f.name in self.columns
            or f.name == TIME_COLUMN
            or role_of(f) is ColumnRole.TAG
            or (self.known is not None and f.name not in self.known)
        ]
        return rows.select(names)


def scan_needs(
    predicate: Expr | None, projection: list[str] | None, schema: pa.Schema
) -> ScanNeeds:
    """The needs of one scan: its projection and the key predicates among ``predicate``'s
    conjuncts (``schema`` says which columns are tags)."""
    tags = {f.name for f in schema if role_of(f) is ColumnRole.TAG}
    first: int | None = None
    last: int | None = None
    values: dict[str, frozenset[str]] = {}
    for conjunct in _conjuncts(predicate) if predicate is not None else []:
        bound = _time_bound(conjunct)
        if bound is not None:
            op, nanos = bound
            if op in (">", ">=", "="):
                lower = nanos + (op == ">")
                first = lower if first is None else max(first, lower)
            if op in ("<", "<=", "="):
                upper = nanos - (op == "<")
                last = upper if last is None else min(last, upper)
            continue
        found = _tag_values(conjunct, tags)
        if found is not None:
            name, allowed = found
            values[name] = values[name] & allowed if name in values else allowed
    columns = None if projection is None else frozenset(projection)
    known = frozenset(schema.names)
    return ScanNeeds(columns, first, last, tuple(sorted(values.items())), known)


def _conjuncts(expr: Expr) -> list[Expr]:
    variant = expr.to_variant()
    if type(variant).__name__ == "BinaryExpr" and variant.op() == _AND:
        return _conjuncts(Expr(variant.left())) + _conjuncts(Expr(variant.right()))
    return [expr]


def _column(expr: Expr) -> str | None:
    variant = expr.to_variant()
    return str(variant.name()) if type(variant).__name__ == "Column" else None


def _literal(expr: Expr) -> pa.Scalar | None:
    if type(expr.to_variant()).__name__ != "Literal":
        return None
    try:
        value = expr.python_value()
    except Exception as error:  # a literal type the bindings cannot convert: not pushed
        if not is_engine_error(error):
            raise
        return None
    return value if isinstance(value, pa.Scalar) else None


def _comparison(expr: Expr) -> tuple[str, str, pa.Scalar] | None:
    """``column op literal`` (either way round), as (column, op, literal)."""
    variant = expr.to_variant()
    if type(variant).__name__ != "BinaryExpr" or variant.op() not in _FLIPPED:
        return None
    left, right = Expr(variant.left()), Expr(variant.right())
    name, value = _column(left), _literal(right)
    if name is not None and value is not None:
        return name, variant.op(), value
    name, value = _column(right), _literal(left)
    if name is not None and value is not None:
        return name, _FLIPPED[variant.op()], value
    return None


def _time_bound(expr: Expr) -> tuple[str, int] | None:
    """``time op timestamp``: the operator and the nanoseconds."""
    found = _comparison(expr)
    if found is None or found[0] != TIME_COLUMN:
        return None
    value = found[2]
    if not isinstance(value, pa.TimestampScalar) or not value.is_valid:
        return None
    if value.type.unit != "ns":
        return None  # the plan coerces literals to the column's type; anything else is odd
    return found[1], int(value.value)


def _text(value: pa.Scalar) -> str | None:
    if isinstance(value, pa.DictionaryScalar):
        value = value.value
    if not value.is_valid or not pa.types.is_string(value.type):
        return None
    return str(value.as_py())


def _tag_values(expr: Expr, tags: set[str]) -> tuple[str, frozenset[str]] | None:
    """A tag restricted to literal values: ``=``, ``IN``, or an ``OR`` of those on one tag."""
    variant = expr.to_variant()
    kind = type(variant).__name__
    if kind == "InList" and not variant.negated():
        name = _column(Expr(variant.expr()))
        literals = [_literal(Expr(item)) for item in variant.list()]
        texts = [None if v is None else _text(v) for v in literals]
        if name in tags and texts and all(t is not None for t in texts):
            return name, frozenset(t for t in texts if t is not None)
        return None
    if kind == "BinaryExpr" and variant.op() == _OR:
        left = _tag_values(Expr(variant.left()), tags)
        right = _tag_values(Expr(variant.right()), tags)
        if left is None or right is None or left[0] != right[0]:
            return None
        return left[0], left[1] | right[1]
    found = _comparison(expr)
    if found is None or found[1] != "=" or found[0] not in tags:
        return None
    text = _text(found[2])
    return None if text is None else (found[0], frozenset({text}))
