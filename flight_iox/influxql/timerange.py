"""Time in InfluxQL: literals (RFC 3339, epoch integers, ``now() - 1h``) and WHERE time ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flight_iox.errors import QueryError
from flight_iox.influxql import ast

MIN_TIME = -(2**63) + 2
MAX_TIME = 2**63 - 2
_FRACTION = re.compile(r"\.(\d+)")
_COMPARISONS = {"=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class TimeRange:
    """An inclusive range of nanosecond times; ``None`` ends are open."""

    lower: int | None = None
    upper: int | None = None

    def intersect(self, other: TimeRange) -> TimeRange:
        """Both ranges at once."""
        lows = [v for v in (self.lower, other.lower) if v is not None]
        highs = [v for v in (self.upper, other.upper) if v is not None]
        return TimeRange(max(lows) if lows else None, min(highs) if highs else None)


def parse_time_string(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 time or date (no zone means UTC)."""
    nanos = 0
    match = _FRACTION.search(text)
    if match:
        digits = match.group(1)[:9].ljust(9, "0")
        nanos = int(digits)
        text = text[: match.start()] + text[match.end() :]
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise QueryError(f"invalid time literal {text!r}: expected RFC 3339") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + nanos


def is_time_ref(expr: ast.Expr) -> bool:
    """Whether ``expr`` names the time column."""
    return isinstance(expr, ast.VarRef) and expr.name.lower() == "time"


def time_value(expr: ast.Expr, now: int) -> int:
    """Evaluate the right side of a ``time`` comparison to nanoseconds."""
    if isinstance(expr, ast.Paren):
        return time_value(expr.expr, now)
    if isinstance(expr, ast.StringLit):
        return parse_time_string(expr.value)
    if isinstance(expr, ast.NumberLit):
        return int(expr.value)
    if isinstance(expr, ast.DurationLit):
        return expr.nanos
    if isinstance(expr, ast.Call) and expr.name == "now" and not expr.args:
        return now
    if isinstance(expr, ast.BinaryExpr) and expr.op in ("+", "-"):
        lhs, rhs = time_value(expr.lhs, now), time_value(expr.rhs, now)
        return lhs + rhs if expr.op == "+" else lhs - rhs
    raise QueryError(f"invalid time comparison value: {expr}")


def comparison_range(op: str, value: int) -> TimeRange:
    """The times that satisfy ``time <op> value``."""
    return {
        "=": TimeRange(value, value),
        ">": TimeRange(value + 1, None),
        ">=": TimeRange(value, None),
        "<": TimeRange(None, value - 1),
        "<=": TimeRange(None, value),
    }.get(op, TimeRange())


def flipped(op: str) -> str:
    """The operator with its sides swapped (``5 < time`` is ``time > 5``)."""
    return {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)


def time_comparison(expr: ast.Expr, now: int) -> tuple[str, int] | None:
    """``(op, nanos)`` when ``expr`` compares time with a value, else None."""
    if not isinstance(expr, ast.BinaryExpr) or expr.op not in _COMPARISONS | {"!=", "<>"}:
        return None
    if is_time_ref(expr.lhs):
        return expr.op, time_value(expr.rhs, now)
    if is_time_ref(expr.rhs):
        return flipped(expr.op), time_value(expr.lhs, now)
    return None


def condition_range(condition: ast.Expr | None, now: int) -> TimeRange:
    """The time range implied by the top-level ANDs of a WHERE clause."""
    if condition is None:
        return TimeRange()
    if isinstance(condition, ast.Paren):
        return condition_range(condition.expr, now)
    if isinstance(condition, ast.BinaryExpr) and condition.op == "and":
        return condition_range(condition.lhs, now).intersect(condition_range(condition.rhs, now))
    found = time_comparison(condition, now)
    return comparison_range(*found) if found else TimeRange()
