"""Which data files a query can need: its time range and tag values against the manifests.

The predicates come from DataFusion's optimized plan of the statement (``probe.py`` plans it
over empty stand-ins of the tables): the filters pushed into each ``TableScan`` (and a
``Filter`` right above one) are conjunctions every row read from that scan must satisfy.
Only predicates on the row key are used, time and tags, so a file left out holds no row
the query could see, and no row that could replace one it sees (deduplication merges rows
of one key, and all of them satisfy the same key predicates); a predicate on a field
could drop a newer value of a key and let an older one through, so fields are never used.

Time literals arrive as exact nanoseconds: the stand-in's ``time`` is Timestamp(ns), so
DataFusion coerces the literal to nanoseconds itself, and no cast of the column is
unwrapped by truncating the literal (DataFusion 55 does that to ``CAST(µs AS ns)``; see
``tables._time_expression``). A file is kept when its whole-nanosecond range
``[min_µs·1000, max_µs·1000 + 999]`` meets the query's, its tag bounds (manifest column
statistics) may hold one of the query's values of each tag, and its partition values
(identity or ``bucket[N]`` of a tag) are those of one of the values. Anything not
understood constrains nothing: pruning only ever keeps more than needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from datafusion import Expr, LogicalPlan
from pyiceberg.transforms import parse_transform
from pyiceberg.types import StringType

from flight_iox.columns import TIME_COLUMN
from iox_catalog.files import DataFile

# Three parts of a scanned table's name: catalog, schema, table (None: the default).
TableName = tuple[str | None, str | None, str]
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


@dataclass
class ScanBounds:
    """What one scan of a table reads: a time range (inclusive ns) and tag value sets."""

    lower: int | None = None
    upper: int | None = None
    tags: dict[str, frozenset[str]] = field(default_factory=dict)

    def narrow_time(self, lower: int | None, upper: int | None) -> None:
        """Intersect the time range with ``[lower, upper]``."""
        if lower is not None:
            self.lower = lower if self.lower is None else max(self.lower, lower)
        if upper is not None:
            self.upper = upper if self.upper is None else min(self.upper, upper)

    def narrow_tag(self, tag: str, values: frozenset[str]) -> None:
        """Intersect the values the tag may have with ``values``."""
        known = self.tags.get(tag)
        self.tags[tag] = values if known is None else known & values

    @property
    def constrains(self) -> bool:
        """Whether anything here can leave a file out."""
        return self.lower is not None or self.upper is not None or bool(self.tags)


def scan_bounds(plan: LogicalPlan) -> dict[TableName, list[ScanBounds]]:
    """Each scanned table's scans, with what their time and string-equality predicates allow.

    String equalities are kept for every column; ``kept_files`` uses only the table's
    tags. A scan with no usable predicate is an unconstrained ``ScanBounds``, so its table
    keeps every file.
    """
    found: dict[TableName, list[ScanBounds]] = {}
    stack: list[tuple[LogicalPlan, list[Expr]]] = [(plan, [])]
    while stack:
        node, above = stack.pop()
        variant = node.to_variant()
        kind = type(variant).__name__
        if kind == "TableScan":
            bounds = ScanBounds()
            for predicate in [*variant.filters(), *above]:
                _apply(bounds, predicate)
            found.setdefault(variant.fqn(), []).append(bounds)
            continue
        # A Filter right above a scan filters that scan's rows; anywhere else it may not.
        predicates = [variant.predicate()] if kind == "Filter" else []
        stack.extend((child, predicates) for child in node.inputs())
    return found


def _conjuncts(expression: Expr) -> list[Expr]:
    variant = expression.to_variant()
    if type(variant).__name__ == "BinaryExpr" and variant.op().upper() == "AND":
        return [*_conjuncts(variant.left()), *_conjuncts(variant.right())]
    return [expression]


def _apply(bounds: ScanBounds, predicate: Expr) -> None:
    for conjunct in _conjuncts(predicate):
        time = _time_range(conjunct)
        if time is not None:
            bounds.narrow_time(*time)
            continue
        values = _tag_values(conjunct)
        if values is not None:
            bounds.narrow_tag(*values)


def _column(expression: Expr) -> str | None:
    variant = expression.to_variant()
    return variant.name() if type(variant).__name__ == "Column" else None


def _literal(expression: Expr) -> pa.Scalar | None:
    if type(expression.to_variant()).__name__ != "Literal":
        return None
    value = expression.python_value()
    return value if isinstance(value, pa.Scalar) and value.is_valid else None


def _time_value(expression: Expr) -> int | None:
    """A nanosecond timestamp literal as its integer (other units and types: None)."""
    value = _literal(expression)
    if value is None or value.type != pa.timestamp("ns"):
        return None
    return int(value.cast(pa.int64()).as_py())


def _comparison(expression: Expr) -> tuple[str, Expr, str] | None:
    """``column op literal`` (either way round) as (column, literal, op with column left)."""
    variant = expression.to_variant()
    if type(variant).__name__ != "BinaryExpr" or variant.op() not in _FLIPPED:
        return None
    left, right = variant.left(), variant.right()
    if (name := _column(left)) is not None:
        return name, right, variant.op()
    if (name := _column(right)) is not None:
        return name, left, _FLIPPED[variant.op()]
    return None


def _time_range(expression: Expr) -> tuple[int | None, int | None] | None:
    """The inclusive range a time comparison or BETWEEN allows (None: not one)."""
    variant = expression.to_variant()
    if type(variant).__name__ == "Between":
        if variant.negated() or _column(variant.expr()) != TIME_COLUMN:
            return None
        low, high = _time_value(variant.low()), _time_value(variant.high())
        return (low, high) if low is not None and high is not None else None
    compared = _comparison(expression)
    if compared is None or compared[0] != TIME_COLUMN:
        return None
    value = _time_value(compared[1])
    if value is None:
        return None
    return {
        "=": (value, value),
        ">": (value + 1, None),
        ">=": (value, None),
        "<": (None, value - 1),
        "<=": (None, value),
    }[compared[2]]


def _string_value(expression: Expr) -> str | None:
    value = _literal(expression)
    if value is None:
        return None
    if isinstance(value, pa.DictionaryScalar):
        value = value.value
    return value.as_py() if pa.types.is_string(value.type) else None


def _tag_values(expression: Expr) -> tuple[str, frozenset[str]] | None:
    """``c = 'v'``, ``c IN (...)`` or an OR of those on one column: the values allowed."""
    variant = expression.to_variant()
    kind = type(variant).__name__
    if kind == "InList":
        name = _column(variant.expr())
        values = [_string_value(item) for item in variant.list()]
        if variant.negated() or name is None or None in values:
            return None
        return name, frozenset(v for v in values if v is not None)
    if kind == "BinaryExpr" and variant.op().upper() == "OR":
        left, right = _tag_values(variant.left()), _tag_values(variant.right())
        if left is None or right is None or left[0] != right[0]:
            return None
        return left[0], left[1] | right[1]
    compared = _comparison(expression)
    if compared is None or compared[2] != "=" or compared[0] == TIME_COLUMN:
        return None
    value = _string_value(compared[1])
    return None if value is None else (compared[0], frozenset([value]))


def kept_files(
    files: Sequence[DataFile], scans: Sequence[ScanBounds], tags: Iterable[str]
) -> list[DataFile]:
    """The files some scan may read rows of, in their order (commit order stays).

    Only the predicates on ``time`` and on ``tags`` (the table's tag columns) count.
    """
    tag_names = frozenset(tags)
    scans = [
        ScanBounds(s.lower, s.upper, {t: v for t, v in s.tags.items() if t in tag_names})
        for s in scans
    ]
    if not scans or not all(scan.constrains for scan in scans):
        return list(files)
    lows = np.fromiter((f.min_time_us for f in files), np.int64, len(files)) * 1000
    highs = np.fromiter((f.max_time_us for f in files), np.int64, len(files)) * 1000 + 999
    unknown = (lows == 0) & (highs == 999)  # no time bounds recorded: keep
    wanted = np.zeros(len(files), dtype=bool)
    for scan in scans:
        inside = unknown.copy()
        meets = np.ones(len(files), dtype=bool)
        if scan.lower is not None:
            meets &= highs >= scan.lower
        if scan.upper is not None:
            meets &= lows <= scan.upper
        inside |= meets
        for index in np.flatnonzero(inside & ~wanted).tolist():  # few, once time has pruned
            if _may_hold(files[index], scan):
                wanted[index] = True
    return [f for f, keep in zip(files, wanted.tolist(), strict=True) if keep]


def _may_hold(file: DataFile, scan: ScanBounds) -> bool:
    """Whether the file's tag bounds and partition values allow one of each tag's values."""
    partition = dict(zip(file.partition_fields, file.partition.values, strict=False)) if (
        file.partition is not None
    ) else {}  # fmt: skip
    for tag, values in scan.tags.items():
        if not values:
            return False
        bounds = file.tag_bounds(tag)
        if not bounds.values:
            return False  # the tag is null in every row
        candidates = [
            v
            for v in values
            if (bounds.lower is None or v >= bounds.lower)
            and (bounds.upper is None or v <= bounds.upper)
        ]
        for (column, transform), value in partition.items():
            if column == tag and (check := _partition_check(transform)) is not None:
                candidates = [v for v in candidates if check(v) == value]
        if not candidates:
            return False
    return True


@functools.lru_cache(maxsize=256)
def _partition_check(transform_text: str) -> Callable[[str], object] | None:
    """The per-value function of a tag's partition transform (None: not one we apply)."""
    transform = parse_transform(transform_text)
    if not transform.can_transform(StringType()):
        return None
    result: Callable[[str], object] = transform.transform(StringType())
    return result
