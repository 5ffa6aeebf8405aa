"""The Flux syntax tree: expressions and statements, each with the position Flux reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    """Where a node starts and ends (1-based line and column), printed as Flux does."""

    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        if self.end_line:
            return f"@{self.line}:{self.col}-{self.end_line}:{self.end_col}"
        return f"@{self.line}:{self.col}"


@dataclass(frozen=True)
class Node:
    """Every node knows its position, so errors can name it."""

    pos: Pos = field(compare=False)


@dataclass(frozen=True)
class Ident(Node):
    name: str


@dataclass(frozen=True)
class Literal(Node):
    """int, float, string, regex (``kind`` says which; ``value`` is the Python value)."""

    kind: str
    value: object


@dataclass(frozen=True)
class DurationLit(Node):
    parts: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class TimeLit(Node):
    text: str


@dataclass(frozen=True)
class ArrayExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class RecordExpr(Node):
    props: tuple[tuple[str, Expr], ...]
    with_: Expr | None = None


@dataclass(frozen=True)
class Member(Node):
    obj: Expr
    prop: str


@dataclass(frozen=True)
class Index(Node):
    obj: Expr
    index: Expr


@dataclass(frozen=True)
class Call(Node):
    callee: Expr
    args: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Pipe(Node):
    arg: Expr
    call: Call


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic and comparison (``==``, ``=~``, ``+``, ...), and ``and``/``or``."""

    op: str
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class Unary(Node):
    """``-x``, ``+x``, ``not x``, ``exists r.x``."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Conditional(Node):
    test: Expr
    then: Expr
    else_: Expr


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    pipe: bool = False  # ``tables=<-``


@dataclass(frozen=True)
class FunctionLit(Node):
    params: tuple[Param, ...]
    body: Expr


Expr = (
    Ident | Literal | DurationLit | TimeLit | ArrayExpr | RecordExpr | Member | Index | Call
    | Pipe | Binary | Unary | Conditional | FunctionLit
)  # fmt: skip


@dataclass(frozen=True)
class Import(Node):
    path: str
    alias: str | None


@dataclass(frozen=True)
class Assign(Node):
    """``x = expr``; ``option`` statements are assignments with ``option=True``."""

    name: str
    value: Expr
    option: bool = False
    member: str | None = None  # ``option v.x = ...`` assigns member ``x`` of ``v``


@dataclass(frozen=True)
class ExprStatement(Node):
    expr: Expr


Statement = Import | Assign | ExprStatement


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]
