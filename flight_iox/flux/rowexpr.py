"""Function literals over a row (``(r) => r.host == "a"``) compiled to SQL expressions.

``filter``, ``map`` and the ``fn`` forms of ``drop``/``rename`` take a function of one
record. Its body becomes a SQL expression over the lane's columns: ``r.x`` is column
``x`` (NULL when the table has no such column, as Flux reads a missing column as null),
every other name is evaluated once in the function's scope (``v.timeRangeStart``, a
variable) and pasted as a literal. ``=~``/``!~`` run in DataFusion's (linear-time) regex
engine; the pattern is checked with RE2 first, the syntax Flux uses.

``may_hold`` reads the same body with only ``_measurement`` and ``_field`` known, so
``from`` can leave out the fields no row of which could pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from flight_iox.errors import QueryError
from flight_iox.flux import ast
from flight_iox.flux.plan import q, time_sql
from flight_iox.flux.values import Duration, Lambda, Regex, Time
from flight_iox.safe_regex import compile_regex, regex_search
from flight_iox.sql_quote import quote_string

Evaluate = Callable[[ast.Expr, Mapping[str, object]], object]
_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_CASTS = {
    "float": "DOUBLE",
    "int": "BIGINT",
    "uint": "BIGINT UNSIGNED",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
}
UNKNOWN = object()


def value_sql(value: object, pos: ast.Pos) -> str:
    """A Flux value as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value)
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, Time):
        return time_sql(value.nanos)
    if isinstance(value, Duration):
        return f"INTERVAL '{value.nanos} nanoseconds'"
    raise QueryError(f"error {pos}: a {type(value).__name__} cannot be used in a row expression")


class RowCompiler:
    """Compiles one function literal's body against a lane's columns."""

    def __init__(
        self, fn: Lambda, columns: Sequence[str] | Mapping[str, str], evaluate: Evaluate
    ) -> None:
        """``columns``: the lane's column names, or each name's SQL inside a ``from`` branch."""
        if not fn.node.params:
            raise QueryError(f"error {fn.node.pos}: the function needs a parameter for the row")
        self.fn = fn
        self.row = fn.node.params[0].name
        if isinstance(columns, Mapping):
            self.columns: dict[str, str] = dict(columns)
        else:
            self.columns = {c: q(c) for c in columns}
        self.evaluate = evaluate

    def column_of(self, expr: ast.Expr) -> str | None:
        """The column ``r.x`` refers to, or None when ``expr`` is not a row member."""
        member = isinstance(expr, ast.Member) and isinstance(expr.obj, ast.Ident)
        if member and expr.obj.name == self.row:  # type: ignore[union-attr]
            return expr.prop  # type: ignore[union-attr]
        return None

    def compile(self, expr: ast.Expr) -> str:
        column = self.column_of(expr)
        if column is not None:
            return self.columns.get(column, "NULL")
        if isinstance(expr, ast.Binary):
            return self._binary(expr)
        if isinstance(expr, ast.Unary):
            if expr.op == "not":
                return f"(NOT {self.compile(expr.operand)})"
            if expr.op == "exists":
                return f"({self.compile(expr.operand)} IS NOT NULL)"
            return f"({expr.op}{self.compile(expr.operand)})"
        if isinstance(expr, ast.Conditional):
            return (
                f"(CASE WHEN {self.compile(expr.test)} THEN {self.compile(expr.then)} "
                f"ELSE {self.compile(expr.else_)} END)"
            )
        if self._is_conversion(expr):
            assert isinstance(expr, ast.Call) and isinstance(expr.callee, ast.Ident)
            args = dict(expr.args)
            if "v" not in args:
                raise QueryError(f"error {expr.pos}: {expr.callee.name}() needs argument v")
            return f"CAST({self.compile(args['v'])} AS {_CASTS[expr.callee.name]})"
        if self._mentions_row(expr):
            raise QueryError(
                f"error {expr.pos}: this expression over the row is not supported by "
                "flight-iox (row functions support r.column, literals, arithmetic, "
                "comparisons, =~ and !~, and/or/not, exists, if/then/else and "
                "float/int/uint/string/bool conversions)"
            )
        return value_sql(self.evaluate(expr, self.fn.scope), expr.pos)

    def _binary(self, expr: ast.Binary) -> str:
        if expr.op in ("and", "or"):
            return f"({self.compile(expr.lhs)} {expr.op.upper()} {self.compile(expr.rhs)})"
        if expr.op in ("=~", "!~"):
            regex = self.evaluate(expr.rhs, self.fn.scope)
            if not isinstance(regex, Regex):
                raise QueryError(
                    f"error {expr.rhs.pos}: the right side of {expr.op} must be a regex"
                )
            compile_regex(regex.pattern)
            op = "~" if expr.op == "=~" else "!~"
            return f"({self.compile(expr.lhs)} {op} {quote_string(regex.pattern)})"
        lhs, rhs = self.compile(expr.lhs), self.compile(expr.rhs)
        if expr.op in _COMPARE:
            return f"({lhs} {_COMPARE[expr.op]} {rhs})"
        if expr.op == "+" and (_is_text(expr.lhs) or _is_text(expr.rhs)):
            return f"concat({lhs}, {rhs})"
        if expr.op in _ARITHMETIC:
            return f"({lhs} {_ARITHMETIC[expr.op]} {rhs})"
        if expr.op == "^":
            return f"power({lhs}, {rhs})"
        raise QueryError(f"error {expr.pos}: operator {expr.op} is not supported")

    def _is_conversion(self, expr: ast.Expr) -> bool:
        return (
            isinstance(expr, ast.Call)
            and isinstance(expr.callee, ast.Ident)
            and expr.callee.name in _CASTS
            and self._mentions_row(expr)
        )

    def _mentions_row(self, expr: object) -> bool:
        if isinstance(expr, ast.Ident):
            return expr.name == self.row
        if isinstance(expr, tuple):
            return any(self._mentions_row(e) for e in expr)
        if isinstance(expr, ast.Node):
            return any(
                self._mentions_row(getattr(expr, f))
                for f in expr.__dataclass_fields__
                if f != "pos"
            )
        return False

    # -- static reading with only _measurement and _field known --------------------------
    def may_hold(self, known: Mapping[str, str]) -> bool:
        """False only when no row with these ``_measurement``/``_field`` can pass."""
        return self._static(self.fn.node.body, known) is not False

    def _static(self, expr: ast.Expr, known: Mapping[str, str]) -> object:
        column = self.column_of(expr)
        if column is not None:
            return known.get(column, UNKNOWN)
        if isinstance(expr, ast.Binary) and expr.op in ("and", "or"):
            lhs, rhs = self._static(expr.lhs, known), self._static(expr.rhs, known)
            if expr.op == "and":
                if lhs is False or rhs is False:
                    return False
                return True if lhs is True and rhs is True else UNKNOWN
            if lhs is True or rhs is True:
                return True
            return False if lhs is False and rhs is False else UNKNOWN
        if isinstance(expr, ast.Unary) and expr.op == "not":
            inner = self._static(expr.operand, known)
            return (not inner) if isinstance(inner, bool) else UNKNOWN
        if isinstance(expr, ast.Binary) and expr.op in ("==", "!=", "=~", "!~"):
            lhs, rhs = self._static(expr.lhs, known), self._static(expr.rhs, known)
            if lhs is UNKNOWN or rhs is UNKNOWN:
                return UNKNOWN
            if expr.op in ("=~", "!~"):
                if not isinstance(lhs, str) or not isinstance(rhs, Regex):
                    return UNKNOWN
                found = regex_search(rhs.pattern, lhs)
                return found if expr.op == "=~" else not found
            if isinstance(lhs, str) and isinstance(rhs, str):
                return (lhs == rhs) if expr.op == "==" else (lhs != rhs)
            return UNKNOWN
        if self._mentions_row(expr):
            return UNKNOWN
        try:
            return self.evaluate(expr, self.fn.scope)
        except QueryError:
            return UNKNOWN


def _is_text(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and expr.kind == "string"
