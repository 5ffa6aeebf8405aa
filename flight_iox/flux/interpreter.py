"""Evaluating a Flux program: scalars in Python, streams as SQL plans (``plan.Stream``).

The interpreter runs the statements in order, binding variables and options, and
collects the streams the program yields. Builtins (``functions.UNIVERSE`` and the
``schema``/``v1`` packages) get a ``Call``: the evaluated arguments, the node for error
positions and the interpreter for its backend, principal and ``now``. A function Flux
has but flight-iox does not implement is an error naming it and where it is called.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.errors import FlightIoxError, QueryError, query_error
from flight_iox.flux import ast
from flight_iox.flux.plan import Lane, Stream, materialise
from flight_iox.flux.values import Builtin, Duration, Lambda, Regex, Time, shift
from flight_iox.query.backend import QueryBackend
from flight_iox.query.engine_errors import is_engine_error

MAX_CALL_DEPTH = 100


class Scope(dict[str, object]):
    """Names bound in a block, falling back to the enclosing scope."""

    def __init__(self, parent: Mapping[str, object] | None = None) -> None:
        super().__init__()
        self.parent = parent

    def __missing__(self, name: str) -> object:
        if self.parent is None:
            raise KeyError(name)
        return self.parent[name]

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or (self.parent is not None and name in self.parent)


@dataclass
class Call:
    """One call of a builtin, its arguments evaluated."""

    name: str
    node: ast.Call
    args: dict[str, object]
    interp: Interpreter

    def fail(self, message: str) -> QueryError:
        return QueryError(f"error {self.node.pos}: {self.name}: {message}")

    def get(
        self, name: str, default: object = None, kinds: tuple[type, ...] | None = None
    ) -> object:
        value = self.args.get(name, default)
        if kinds is not None and value is not None and not isinstance(value, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise self.fail(f"argument {name!r} must be a {wanted}, got {type(value).__name__}")
        return value

    def required(self, name: str, kinds: tuple[type, ...] | None = None) -> object:
        if self.args.get(name) is None:
            raise self.fail(f"missing required argument {name!r}")
        return self.get(name, None, kinds)

    def text_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.args.get(name, default)
        if value is None:
            raise self.fail(f"missing required argument {name!r}")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"argument {name!r} must be an array of strings")
        return list(value)

    def stream(self) -> Stream:
        tables = self.args.get("tables")
        if not isinstance(tables, Stream):
            raise self.fail("needs a stream of tables piped in (tables=<-)")
        return tables

    def lanes(self) -> tuple[Lane, ...]:
        """The piped-in stream's lanes, planning a pending ``from`` first."""
        return self.interp.lanes_of(self.stream())

    def number_of_nanos(self, name: str, default: object = None) -> int:
        value = self.get(name, default)
        if isinstance(value, Duration):
            return value.fixed(self.node.pos)
        raise self.fail(f"argument {name!r} must be a duration")


@dataclass
class Interpreter:
    """One query's evaluation: the caller's scoped backend, ``now`` and the results so far."""

    backend: QueryBackend
    principal: Principal
    now: int
    universe: Mapping[str, object]
    packages: Mapping[str, Mapping[str, object]]
    retention: Callable[[str], int | None] = lambda name: None  # a database's, in ns
    results: list[tuple[str, Stream]] = field(default_factory=list)
    depth: int = 0

    def run(self, program: ast.Program) -> list[tuple[str, Stream]]:
        """Run the statements in order; the (name, stream) results the program yields."""
        scope = Scope(self.universe)
        for stmt in program.statements:
            self.statement(stmt, scope)
        return self.results

    def statement(self, stmt: ast.Statement, scope: Scope) -> None:
        if isinstance(stmt, ast.Import):
            alias = stmt.alias or stmt.path.rsplit("/", 1)[-1]
            scope[alias] = {"__package__": stmt.path, **self.packages.get(stmt.path, {})}
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, scope)
            if stmt.member is not None:
                base = scope.get(stmt.name, {})
                if not isinstance(base, dict):
                    raise QueryError(f"error {stmt.pos}: {stmt.name} is not a record")
                value = {**base, stmt.member: value}
            scope[stmt.name] = value
        else:
            value = self.eval(stmt.expr, scope)
            yielded = isinstance(stmt.expr, ast.Pipe) and _callee_name(stmt.expr.call) == "yield"
            if isinstance(value, Stream) and not yielded:
                self.results.append(("_result", value))

    def lanes_of(self, stream: Stream) -> tuple[Lane, ...]:
        if stream.pending is None:
            return stream.lanes
        return materialise(stream.pending, self.table_schemas(stream.database))

    def run_sql(self, database: str | None, sql: str) -> pa.Table:
        """Run SQL as the caller on ``database`` (None: no tables, literal rows only)."""
        if database:
            Authorizer.require(self.principal, Action.READ, database)
        try:
            return plain_strings(self.backend.execute(database or None, sql).read_all())
        except FlightIoxError:
            raise
        except Exception as error:
            if not is_engine_error(error):
                raise  # a bug of ours: 500 with its traceback
            raise query_error(str(error)) from None

    def table_schemas(self, database: str) -> dict:
        Authorizer.require(self.principal, Action.READ, database)
        return self.backend.table_schemas(database)

    # -- expressions ---------------------------------------------------------------------
    def eval(self, expr: ast.Expr, scope: Mapping[str, object]) -> object:
        method = _EVALUATORS.get(type(expr))
        if method is None:
            raise QueryError(f"error {expr.pos}: unsupported expression")
        return method(self, expr, scope)

    def _ident(self, expr: ast.Ident, scope: Mapping[str, object]) -> object:
        try:
            return scope[expr.name]
        except KeyError:
            raise QueryError(f"error {expr.pos}: undefined identifier {expr.name}") from None

    def _literal(self, expr: ast.Literal, scope: Mapping[str, object]) -> object:
        return Regex(str(expr.value)) if expr.kind == "regex" else expr.value

    def _member(self, expr: ast.Member, scope: Mapping[str, object]) -> object:
        obj = self.eval(expr.obj, scope)
        if not isinstance(obj, dict):
            raise QueryError(
                f"error {expr.pos}: cannot read .{expr.prop} of a {type(obj).__name__}"
            )
        if expr.prop not in obj:
            if "__package__" in obj:
                raise unsupported(f"{_dotted(expr)}", expr.pos)
            return None
        return obj[expr.prop]

    def _index(self, expr: ast.Index, scope: Mapping[str, object]) -> object:
        obj, index = self.eval(expr.obj, scope), self.eval(expr.index, scope)
        if isinstance(obj, list) and isinstance(index, int) and -len(obj) <= index < len(obj):
            return obj[index]
        raise QueryError(f"error {expr.pos}: index {index!r} out of range")

    def _record(self, expr: ast.RecordExpr, scope: Mapping[str, object]) -> object:
        base = {} if expr.with_ is None else self.eval(expr.with_, scope)
        if not isinstance(base, dict):
            raise QueryError(f"error {expr.pos}: 'with' needs a record")
        return {**base, **{k: self.eval(v, scope) for k, v in expr.props}}

    def _call(self, expr: ast.Call, scope: Mapping[str, object], piped: object = None) -> object:
        try:
            callee = self.eval(expr.callee, scope)
        except QueryError:
            if isinstance(expr.callee, ast.Ident) and expr.callee.name not in scope:
                raise unsupported(expr.callee.name, expr.pos) from None
            raise
        args = {name: self.eval(value, scope) for name, value in expr.args}
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise QueryError(f"error {expr.pos}: calls nested deeper than {MAX_CALL_DEPTH}")
        try:
            if isinstance(callee, Builtin):
                if piped is not None:
                    args["tables"] = piped
                return callee.impl(Call(callee.name, expr, args, self))
            if isinstance(callee, Lambda):
                return self.apply(callee, args, piped, expr.pos)
        finally:
            self.depth -= 1
        raise QueryError(f"error {expr.pos}: {_dotted(expr.callee)} is not a function")

    def apply(self, fn: Lambda, args: dict[str, object], piped: object, pos: ast.Pos) -> object:
        """Call a function literal: parameters bound from arguments, defaults, the pipe."""
        inner = Scope(fn.scope)
        for param in fn.node.params:
            if param.pipe and piped is not None:
                inner[param.name] = piped
            elif param.name in args:
                inner[param.name] = args[param.name]
            elif param.default is not None:
                inner[param.name] = self.eval(param.default, fn.scope)
            else:
                raise QueryError(f"error {pos}: missing required argument {param.name!r}")
        return self.eval(fn.node.body, inner)

    def _pipe(self, expr: ast.Pipe, scope: Mapping[str, object]) -> object:
        return self._call(expr.call, scope, piped=self.eval(expr.arg, scope))

    def _unary(self, expr: ast.Unary, scope: Mapping[str, object]) -> object:
        value = self.eval(expr.operand, scope)
        if expr.op == "not" and isinstance(value, bool):
            return not value
        if expr.op == "exists":
            return value is not None
        if expr.op == "-" and isinstance(value, Duration):
            return -value
        if expr.op in "-+" and isinstance(value, int | float) and not isinstance(value, bool):
            return -value if expr.op == "-" else value
        raise QueryError(f"error {expr.pos}: cannot apply {expr.op} to {type(value).__name__}")

    def _binary(self, expr: ast.Binary, scope: Mapping[str, object]) -> object:
        lhs = self.eval(expr.lhs, scope)
        if expr.op in ("and", "or"):
            if lhs is (expr.op == "or"):
                return lhs
            return self.eval(expr.rhs, scope)
        return binary(expr, lhs, self.eval(expr.rhs, scope))

    def _conditional(self, expr: ast.Conditional, scope: Mapping[str, object]) -> object:
        test = self.eval(expr.test, scope)
        return self.eval(expr.then if test is True else expr.else_, scope)


_EVALUATORS: dict[type, Callable[..., object]] = {
    ast.Ident: Interpreter._ident,
    ast.Literal: Interpreter._literal,
    ast.DurationLit: lambda self, e, s: Duration.of(e.parts, e.pos),
    ast.TimeLit: lambda self, e, s: Time.parse(e.text, e.pos),
    ast.ArrayExpr: lambda self, e, s: [self.eval(item, s) for item in e.items],
    ast.RecordExpr: Interpreter._record,
    ast.Member: Interpreter._member,
    ast.Index: Interpreter._index,
    ast.Call: Interpreter._call,
    ast.Pipe: Interpreter._pipe,
    ast.Unary: Interpreter._unary,
    ast.Binary: Interpreter._binary,
    ast.Conditional: Interpreter._conditional,
    ast.FunctionLit: lambda self, e, s: Lambda(e, s),
}

_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "%": operator.mod,
    "^": operator.pow,
}


def binary(expr: ast.Binary, lhs: object, rhs: object) -> object:
    """A binary operator on two scalars (time arithmetic included)."""
    op = expr.op
    if isinstance(lhs, Time) and isinstance(rhs, Duration) and op in "+-":
        return Time(shift(lhs.nanos, rhs if op == "+" else -rhs))
    if isinstance(lhs, Time) and isinstance(rhs, Time) and op in _ORDERING:
        return _ORDERING[op](lhs.nanos, rhs.nanos)
    if isinstance(lhs, Duration) and isinstance(rhs, Duration) and op in ("+", "-"):
        rhs = rhs if op == "+" else -rhs
        return Duration(lhs.nanos + rhs.nanos, lhs.months + rhs.months)
    if op in ("=~", "!~") and isinstance(lhs, str) and isinstance(rhs, Regex):
        from flight_iox.safe_regex import regex_search

        return regex_search(rhs.pattern, lhs) is (op == "=~")
    if lhs is None or rhs is None:
        return None
    if op in ("==", "!="):
        return _ORDERING[op](lhs, rhs)
    try:
        if op in _ORDERING:
            return _ORDERING[op](lhs, rhs)
        if op == "/":
            if isinstance(lhs, int) and isinstance(rhs, int):
                return int(lhs / rhs)
            return lhs / rhs  # type: ignore[operator]
        if op in _ARITH:
            return _ARITH[op](lhs, rhs)
    except (TypeError, ZeroDivisionError) as error:
        raise QueryError(f"error {expr.pos}: {op}: {error}") from None
    raise QueryError(f"error {expr.pos}: unsupported operator {op}")


def plain_strings(table: pa.Table) -> pa.Table:
    """String views and dictionaries (DataFusion's choices) as plain values and strings."""
    for i, f in enumerate(table.schema):
        kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        if kind != f.type:
            table = table.set_column(i, f.name, table.column(i).cast(kind))
    return table


def unsupported(name: str, pos: ast.Pos) -> QueryError:
    """The error for a function flight-iox does not implement (or Flux does not have)."""
    return QueryError(
        f"error {pos}: unsupported function {name!r}: flight-iox implements a subset of "
        "Flux (see docs/flux.md)"
    )


def _dotted(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Ident):
        return expr.name
    if isinstance(expr, ast.Member):
        return f"{_dotted(expr.obj)}.{expr.prop}"
    return "expression"


def _callee_name(call: ast.Call) -> str:
    return _dotted(call.callee)
