"""Row-level InfluxQL expressions compiled to DataFusion SQL, with InfluxQL's typing rules.

Every compiled expression carries its InfluxQL type (``float``, ``integer``,
``unsigned``, ``string``, ``boolean``, ``tag``, ``time``, or ``None`` for a
column the measurement lacks), because InfluxQL types decide what compiles:
``f64 + str`` is an error, ``str = 1`` is simply false, a missing tag reads as
``''``. Names are always quoted, never pasted in raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.timerange import is_time_ref, time_comparison
from flight_iox.sql_quote import quote_identifier, quote_string

NUMERIC = {"float", "integer", "unsigned"}
ARITHMETIC = {"+", "-", "*", "/", "%", "&", "|", "^"}
COMPARISON = {"=", "!=", "<>", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Typed:
    """A SQL fragment and its InfluxQL type."""

    sql: str
    type: str | None


NULL = Typed("NULL", None)
FALSE = Typed("FALSE", "boolean")


@dataclass(frozen=True)
class TableInfo:
    """What the planner knows of one measurement: its tags and typed fields."""

    name: str
    tags: frozenset[str] = frozenset()
    fields: Mapping[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether the table has a tag or field of that name."""
        return name in self.tags or name in self.fields


def time_literal(nanos: int) -> str:
    """A ``timestamp[ns]`` literal."""
    return f"to_timestamp_nanos({int(nanos)})"


@dataclass(frozen=True)
class MathFunction:
    """A scalar math function: its SQL name, argument count and result type rule."""

    sql: str
    arity: int
    keeps_type: bool = False  # abs, floor, ceil, round keep integers integral


MATH_FUNCTIONS: dict[str, MathFunction] = {
    "abs": MathFunction("abs", 1, keeps_type=True),
    "sin": MathFunction("sin", 1),
    "cos": MathFunction("cos", 1),
    "tan": MathFunction("tan", 1),
    "asin": MathFunction("asin", 1),
    "acos": MathFunction("acos", 1),
    "atan": MathFunction("atan", 1),
    "atan2": MathFunction("atan2", 2),
    "exp": MathFunction("exp", 1),
    "ln": MathFunction("ln", 1),
    "log": MathFunction("log", 2),
    "log2": MathFunction("log2", 1),
    "log10": MathFunction("log10", 1),
    "sqrt": MathFunction("sqrt", 1),
    "pow": MathFunction("power", 2),
    "floor": MathFunction("floor", 1, keeps_type=True),
    "ceil": MathFunction("ceil", 1, keeps_type=True),
    "round": MathFunction("round", 1, keeps_type=True),
}


def unwrap(expr: ast.Expr) -> ast.Expr:
    """The expression inside any parentheses."""
    while isinstance(expr, ast.Paren):
        expr = expr.expr
    return expr


def _cast(typed: Typed, cast: str | None) -> Typed:
    if cast in (None, "field", "tag") or typed.type is None or typed.type == cast:
        return typed
    if cast == "integer" and typed.type in NUMERIC:
        return Typed(f"CAST({typed.sql} AS BIGINT)", "integer")
    if cast == "float" and typed.type in NUMERIC:
        return Typed(f"CAST({typed.sql} AS DOUBLE)", "float")
    if cast == "unsigned" and typed.type in NUMERIC:
        return Typed(f"CAST({typed.sql} AS BIGINT UNSIGNED)", "unsigned")
    if cast == "string" and typed.type == "tag":
        return Typed(typed.sql, "string")
    return NULL


class RowCompiler:
    """Compiles row-level expressions (SELECT items without aggregates, and WHERE)."""

    def __init__(self, table: TableInfo, now: int) -> None:
        self.table = table
        self.now = now

    def var_ref(self, ref: ast.VarRef) -> Typed:
        """A column, honouring ``::field`` / ``::tag`` and type casts."""
        if is_time_ref(ref):
            return Typed(quote_identifier("time"), "time")
        name = ref.name
        if name in self.table.fields and ref.cast != "tag":
            base = Typed(quote_identifier(name), self.table.fields[name])
        elif name in self.table.tags and ref.cast != "field":
            base = Typed(quote_identifier(name), "tag")
        else:
            return NULL
        return _cast(base, ref.cast)

    def value(self, expr: ast.Expr) -> Typed:
        """A value expression (SELECT items, operands)."""
        expr = unwrap(expr)
        if isinstance(expr, ast.VarRef):
            return self.var_ref(expr)
        if isinstance(expr, ast.NumberLit):
            if expr.is_integer:
                return Typed(str(int(expr.value)), "integer")
            return Typed(f"CAST({float(expr.value)!r} AS DOUBLE)", "float")
        if isinstance(expr, ast.StringLit):
            return Typed(quote_string(expr.value), "string")
        if isinstance(expr, ast.BoolLit):
            return Typed("TRUE" if expr.value else "FALSE", "boolean")
        if isinstance(expr, ast.DurationLit):
            return Typed(str(expr.nanos), "integer")
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.BinaryExpr):
            if expr.op in ARITHMETIC:
                return self.arithmetic(expr)
            return self.condition(expr, filtering=False)
        raise QueryError(f"unsupported expression: {expr}")

    def call(self, call: ast.Call) -> Typed:
        """A scalar math call."""
        spec = MATH_FUNCTIONS.get(call.name)
        if spec is None:
            raise QueryError(
                "invalid expression, the only valid function calls are 'now' with no "
                f"arguments, or scalar math functions; found {call.name}()"
            )
        if len(call.args) != spec.arity:
            raise QueryError(
                f"invalid number of arguments for {call.name}, expected {spec.arity}, "
                f"got {len(call.args)}"
            )
        args = [self.value(a) for a in call.args]
        if any(a.type is None for a in args):
            return NULL
        if any(a.type not in NUMERIC for a in args):
            return NULL
        sqls = [f"CAST({a.sql} AS DOUBLE)" for a in args]
        if call.name == "log":
            sqls = [sqls[1], sqls[0]]  # InfluxQL log(x, base); DataFusion log(base, x)
        if spec.keeps_type:
            sqls = [a.sql for a in args]
            return Typed(f"{spec.sql}({', '.join(sqls)})", args[0].type)
        return Typed(f"{spec.sql}({', '.join(sqls)})", "float")

    def arithmetic(self, expr: ast.BinaryExpr) -> Typed:
        """``+ - * / % & | ^`` with InfluxQL's numeric typing."""
        op = expr.op
        lhs, rhs = unwrap(expr.lhs), unwrap(expr.rhs)
        if op == "+" and isinstance(lhs, ast.StringLit) and isinstance(rhs, ast.StringLit):
            return Typed(quote_string(lhs.value + rhs.value), "string")
        left, right = self.value(lhs), self.value(rhs)
        for side in (left, right):
            if side.type in ("string", "tag", "boolean"):
                if left.type is None or right.type is None:
                    return NULL
                raise QueryError(
                    f"incompatible operands for operator {op}: "
                    f"{_type_name(left.type)} and {_type_name(right.type)}"
                )
        if left.type is None or right.type is None:
            return NULL
        if op in ("&", "|", "^"):
            if "float" in (left.type, right.type):  # as IOx: floats are truncated to integers
                lhs_sql = f"CAST({left.sql} AS BIGINT)" if left.type == "float" else left.sql
                rhs_sql = f"CAST({right.sql} AS BIGINT)" if right.type == "float" else right.sql
                return Typed(f"({lhs_sql} {op} {rhs_sql})", "integer")
            return Typed(f"({left.sql} {op} {right.sql})", left.type)
        if op == "/":
            return Typed(f"(CAST({left.sql} AS DOUBLE) / {right.sql})", "float")
        kind = "float" if "float" in (left.type, right.type) else left.type
        return Typed(f"({left.sql} {op} {right.sql})", kind)

    def condition(self, expr: ast.Expr, filtering: bool = True) -> Typed:
        """A WHERE condition (boolean); impossible comparisons compile to FALSE.

        ``filtering``: the result only decides which rows are kept, so null may stand for
        false (InfluxQL has no NOT, and AND/OR treat both alike there).
        """
        expr = unwrap(expr)
        if not isinstance(expr, ast.BinaryExpr):
            if isinstance(expr, ast.BoolLit):
                return self.value(expr)
            raise QueryError(f"invalid condition: {expr}")
        if expr.op in ("and", "or"):
            left = self.condition(expr.lhs, filtering)
            right = self.condition(expr.rhs, filtering)
            return Typed(f"({left.sql} {expr.op.upper()} {right.sql})", "boolean")
        found = time_comparison(expr, self.now)
        if found is not None:
            op = "!=" if found[0] == "<>" else found[0]
            return Typed(f"({quote_identifier('time')} {op} {time_literal(found[1])})", "boolean")
        if expr.op in ("=~", "!~"):
            return self.regex(expr)
        if expr.op in COMPARISON:
            return self.comparison(expr, filtering)
        raise QueryError(f"invalid condition operator {expr.op}")

    def regex(self, expr: ast.BinaryExpr) -> Typed:
        """``tag =~ /re/``: a missing tag reads as the empty string."""
        rhs = unwrap(expr.rhs)
        if not isinstance(rhs, ast.RegexLit):
            raise QueryError(f"expected regular expression after {expr.op}")
        left = self.value(expr.lhs)
        pattern = quote_string(rhs.pattern)
        if left.type == "tag":
            test = f"regexp_like(coalesce({left.sql}, ''), {pattern})"
        elif left.type == "string":
            test = f"coalesce(regexp_like({left.sql}, {pattern}), FALSE)"
        elif left.type is None and isinstance(unwrap(expr.lhs), ast.VarRef):
            test = f"regexp_like('', {pattern})"
        else:
            return FALSE
        return Typed(f"(NOT {test})" if expr.op == "!~" else test, "boolean")

    def comparison(self, expr: ast.BinaryExpr, filtering: bool = False) -> Typed:
        """``= != < <= > >=`` between compatible types; anything else is FALSE."""
        op = "!=" if expr.op == "<>" else expr.op
        left, right = self.value(expr.lhs), self.value(expr.rhs)
        if filtering and op == "=" and {left.type, right.type} == {"tag", "string"}:
            literal = unwrap(expr.rhs if right.type == "string" else expr.lhs)
            if isinstance(literal, ast.StringLit) and literal.value:
                # A missing tag ('') never equals a non-empty literal, and a null is dropped
                # like false: the plain comparison lets the scan prune by the tag's statistics.
                return Typed(f"({left.sql} {op} {right.sql})", "boolean")
        if left.type is None and right.type in ("string", "tag"):
            left = Typed("''", "tag")
        if right.type is None and left.type in ("string", "tag"):
            right = Typed("''", "tag")
        if left.type is None or right.type is None:
            return FALSE
        if left.type == "tag":
            left = Typed(f"coalesce({left.sql}, '')", "string")
        if right.type == "tag":
            right = Typed(f"coalesce({right.sql}, '')", "string")
        numeric = left.type in NUMERIC and right.type in NUMERIC
        if not numeric and left.type != right.type:
            return FALSE
        return Typed(f"({left.sql} {op} {right.sql})", "boolean")


def _type_name(kind: str | None) -> str:
    return {"tag": "tag", None: "null"}.get(kind, kind or "null")  # type: ignore[arg-type]
