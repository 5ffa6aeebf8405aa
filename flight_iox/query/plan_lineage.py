"""The vocabulary ``latest_plan.py`` reads DataFusion's logical plans with.

What a sub-plan's rows are (``Kind``), what each output column is (``Lineage``), and small
readers of plan expressions (columns, conjunctions, ``rank = 1``, a ``DistinctOn`` node's
rendering). Every reader answers "not understood" rather than guess: the proof built on
them may only lose speed, never change an answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from datafusion import Expr, LogicalPlan

Key = tuple[str | None, str]


class NotLatest(Exception):
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
class Rows:
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


SCRATCH_PREFIX = "__iox_scratch_"  # tables.py's names for a view's sources


def scratch_scans(plan: LogicalPlan) -> list[str]:
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


def column_key(expr: Expr) -> Key:
    column = expr.to_variant()
    return (column.relation(), column.name())


def renamed(expr: Expr, rows: Rows) -> tuple[Key, Lineage | None]:
    """A projection item that only passes a column on (perhaps renamed)."""
    if expr.variant_name() == "Column":
        return column_key(expr), rows.find(column_key(expr))
    if expr.variant_name() == "Alias":
        alias = expr.to_variant()
        inner = alias.expr()
        if inner.variant_name() == "Column":
            return (None, alias.alias()), rows.find(column_key(inner))
    return (None, expr.schema_name()), None


def carry(kind: str, node: Any, inputs: list[Rows]) -> list[tuple[Key, Lineage | None]]:
    """Output columns of a node over CLOSED rows (only renames keep their lineage)."""
    if kind == "Projection":
        return [renamed(expr, inputs[0]) for expr in node.projections()]
    if kind in ("Filter", "Sort", "Limit", "Distinct"):
        return inputs[0].columns
    return []


def conjuncts(expr: Expr) -> Iterator[Expr]:
    if expr.variant_name() == "BinaryExpr" and expr.to_variant().op().upper() == "AND":
        binary = expr.to_variant()
        yield from conjuncts(binary.left())
        yield from conjuncts(binary.right())
    else:
        yield expr


def references(expr: Expr) -> list[Key] | None:
    """Every column ``expr`` reads; None if it holds a subquery or anything not understood."""
    variant = expr.variant_name()
    if variant == "Column":
        return [column_key(expr)]
    if variant in ("Literal", "Placeholder"):  # a bound parameter ($1, ?) reads no column
        return []
    if variant in ("InSubquery", "ScalarSubquery", "Exists", "OuterReferenceColumn"):
        return None
    if str(expr.rex_type()).endswith(("Call", "Alias")):
        refs: list[Key] = []
        for operand in expr.rex_call_operands():
            inner = references(operand)
            if inner is None:
                return None
            refs.extend(inner)
        return refs
    return None


def rank_is_one(expr: Expr, rows: Rows) -> bool:
    """``rank = 1`` (either way round) on a row_number latest-rank column."""
    if expr.variant_name() != "BinaryExpr" or expr.to_variant().op() != "=":
        return False
    binary = expr.to_variant()
    for column, literal in ((binary.left(), binary.right()), (binary.right(), binary.left())):
        if column.variant_name() == "Column" and literal.variant_name() == "Literal":
            lineage = rows.find(column_key(column))
            if lineage is not None and lineage.role == "rank" and literal_value(literal) == 1:
                return True
    return False


def literal_value(expr: Expr) -> object:
    value = expr.python_value()
    return value.as_py() if hasattr(value, "as_py") else value


def distinct_on_parts(line: str) -> tuple[list[str], list[str]]:
    """The on and sort expressions of a ``DistinctOn`` node's rendering, as spelled there."""
    try:
        head, rest = line.removeprefix("DistinctOn: on_expr=[[").split("]], select_expr=[[", 1)
        _, sort = rest.split("]], sort_expr=[[", 1)
    except ValueError as error:
        raise NotLatest("DISTINCT ON rendering") from error
    if not sort.endswith("]]"):
        raise NotLatest("DISTINCT ON without ORDER BY")
    return head.split(", "), sort[:-2].split(", ")


def sort_column(text: str) -> tuple[str, bool]:
    """``col DESC NULLS FIRST`` -> (col, descending)."""
    for suffix in (" NULLS FIRST", " NULLS LAST"):
        text = text.removesuffix(suffix)
    if text.endswith(" DESC"):
        return text.removesuffix(" DESC"), True
    return text.removesuffix(" ASC"), False


def spellings(plan: LogicalPlan, rows: Rows) -> dict[str, Key]:
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
