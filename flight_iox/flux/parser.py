"""Flux text to a ``Program``: recursive descent following the Flux grammar's precedence.

Lowest to highest: ``if/then/else``, ``or``, ``and``, ``not``/``exists``, comparisons,
``+ -``, ``* / %``, ``^``, unary ``- +``, ``|>``, then member access, index and calls.
A call's arguments are named (``f(a: 1)``), as in Flux. Errors name the line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flight_iox.errors import QueryError
from flight_iox.flux import ast
from flight_iox.flux.lexer import (
    DURATION,
    EOF,
    FLOAT,
    IDENT,
    INT,
    KEYWORDS,
    OP,
    REGEX,
    STRING,
    TIME,
    Token,
    tokenize,
)

_COMPARISONS = frozenset(("==", "!=", "<", "<=", ">", ">=", "=~", "!~"))
MAX_DEPTH = 40  # brackets, records, functions nested (each level is ~12 Python frames)
MAX_CHAIN = 100  # operands of one operator chain or pipeline (each nests the tree one level)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tok
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def is_op(self, text: str) -> bool:
        return self.tok.kind == OP and self.tok.text == text

    def is_word(self, word: str) -> bool:
        return self.tok.kind == IDENT and self.tok.text == word

    def expect_op(self, text: str) -> Token:
        if not self.is_op(text):
            self.fail(f"expected {text!r}")
        return self.advance()

    def ident(self) -> Token:
        if self.tok.kind != IDENT or self.tok.text in KEYWORDS:
            self.fail("expected an identifier")
        return self.advance()

    def fail(self, message: str) -> None:
        token = self.tok
        found = "end of query" if token.kind == EOF else repr(token.text)
        raise QueryError(f"error @{token.line}:{token.col}: {message}, got {found}")

    def pos(self, start: Token) -> ast.Pos:
        last = self.tokens[max(self.i - 1, 0)]
        return ast.Pos(start.line, start.col, last.line, last.col + len(last.text))

    # -- statements ----------------------------------------------------------------------
    def program(self) -> ast.Program:
        statements: list[ast.Statement] = []
        if self.is_word("package"):
            self.advance()
            self.ident()
        while self.tok.kind != EOF:
            statements.append(self.statement())
        return ast.Program(tuple(statements))

    def statement(self) -> ast.Statement:
        start = self.tok
        if self.is_word("import"):
            self.advance()
            alias = self.ident().text if self.tok.kind == IDENT else None
            if self.tok.kind != STRING:
                self.fail("expected an import path string")
            path = str(self.advance().value)
            return ast.Import(self.pos(start), path, alias)
        if self.is_word("option"):
            self.advance()
            name = self.ident().text
            member = None
            if self.is_op("."):
                self.advance()
                member = self.ident().text
            self.expect_op("=")
            return ast.Assign(self.pos(start), name, self.expression(), True, member)
        if self.is_word("return"):
            self.fail("'return' outside a function block is not supported")
        if start.kind == IDENT and self.peek().kind == OP and self.peek().text == "=":
            name = self.ident().text
            self.advance()
            return ast.Assign(self.pos(start), name, self.expression())
        return ast.ExprStatement(self.pos(start), self.expression())

    # -- expressions ---------------------------------------------------------------------
    @contextmanager
    def nested(self) -> Iterator[None]:
        """One level deeper in the recursion; too deep is a 400, never a RecursionError."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested deeper than {MAX_DEPTH} levels")
        try:
            yield
        finally:
            self.depth -= 1

    def expression(self) -> ast.Expr:
        with self.nested():
            start = self.tok
            if self.is_word("if"):
                self.advance()
                test = self.expression()
                self.expect_word("then")
                then = self.expression()
                self.expect_word("else")
                return ast.Conditional(self.pos(start), test, then, self.expression())
            return self.logical_or()

    def chained(self, count: int) -> None:
        """Refuse a chain so long its left-nested tree would exhaust the interpreter's stack."""
        if count > MAX_CHAIN:
            self.fail(f"more than {MAX_CHAIN} operands or pipeline stages in one chain")

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            self.fail(f"expected {word!r}")
        self.advance()

    def logical_or(self) -> ast.Expr:
        start, lhs, count = self.tok, self.logical_and(), 0
        while self.is_word("or"):
            count += 1
            self.chained(count)
            self.advance()
            lhs = ast.Binary(self.pos(start), "or", lhs, self.logical_and())
        return lhs

    def logical_and(self) -> ast.Expr:
        start, lhs, count = self.tok, self.logical_not(), 0
        while self.is_word("and"):
            count += 1
            self.chained(count)
            self.advance()
            lhs = ast.Binary(self.pos(start), "and", lhs, self.logical_not())
        return lhs

    def logical_not(self) -> ast.Expr:
        start = self.tok
        if self.is_word("not") or self.is_word("exists"):
            op = self.advance().text
            with self.nested():
                return ast.Unary(self.pos(start), op, self.logical_not())
        return self.comparison()

    def comparison(self) -> ast.Expr:
        start, lhs, count = self.tok, self.additive(), 0
        while self.tok.kind == OP and self.tok.text in _COMPARISONS:
            count += 1
            self.chained(count)
            op = self.advance().text
            lhs = ast.Binary(self.pos(start), op, lhs, self.additive())
        return lhs

    def additive(self) -> ast.Expr:
        start, lhs, count = self.tok, self.multiplicative(), 0
        while self.is_op("+") or self.is_op("-"):
            count += 1
            self.chained(count)
            op = self.advance().text
            lhs = ast.Binary(self.pos(start), op, lhs, self.multiplicative())
        return lhs

    def multiplicative(self) -> ast.Expr:
        start, lhs, count = self.tok, self.power(), 0
        while self.is_op("*") or self.is_op("/") or self.is_op("%"):
            count += 1
            self.chained(count)
            op = self.advance().text
            lhs = ast.Binary(self.pos(start), op, lhs, self.power())
        return lhs

    def power(self) -> ast.Expr:
        start, lhs = self.tok, self.unary()
        if self.is_op("^"):
            self.advance()
            with self.nested():
                return ast.Binary(self.pos(start), "^", lhs, self.power())
        return lhs

    def unary(self) -> ast.Expr:
        start = self.tok
        if self.is_op("-") or self.is_op("+"):
            op = self.advance().text
            with self.nested():
                return ast.Unary(self.pos(start), op, self.unary())
        return self.pipe()

    def pipe(self) -> ast.Expr:
        start, lhs, count = self.tok, self.postfix(), 0
        while self.is_op("|>"):
            count += 1
            self.chained(count)
            self.advance()
            call = self.postfix()
            if not isinstance(call, ast.Call):
                raise QueryError(f"error {call.pos}: the right side of |> must be a call")
            lhs = ast.Pipe(self.pos(start), lhs, call)
        return lhs

    def postfix(self) -> ast.Expr:
        start, expr, count = self.tok, self.primary(), 0
        while True:
            count += 1
            self.chained(count)
            if self.is_op("."):
                self.advance()
                expr = ast.Member(self.pos(start), expr, self.ident().text)
            elif self.is_op("["):
                self.advance()
                index = self.expression()
                self.expect_op("]")
                if isinstance(index, ast.Literal) and index.kind == "string":
                    expr = ast.Member(self.pos(start), expr, str(index.value))
                else:
                    expr = ast.Index(self.pos(start), expr, index)
            elif self.is_op("("):
                self.advance()
                args = self.properties(")")
                expr = ast.Call(self.pos(start), expr, args)
            else:
                return expr

    def properties(self, close: str) -> tuple[tuple[str, ast.Expr], ...]:
        props: list[tuple[str, ast.Expr]] = []
        while not self.is_op(close):
            key = str(self.advance().value) if self.tok.kind == STRING else self.ident().text
            if self.is_op(":"):
                self.advance()
                value = self.expression()
            else:  # shorthand ``{a, b}`` means ``{a: a, b: b}``
                value = ast.Ident(self.pos(self.tokens[self.i - 1]), key)
            props.append((key, value))
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(close)
        return tuple(props)

    def primary(self) -> ast.Expr:
        start = self.tok
        kind = start.kind
        if kind == IDENT and start.text not in KEYWORDS:
            self.advance()
            return ast.Ident(self.pos(start), start.text)
        if kind in (INT, FLOAT, STRING, REGEX):
            self.advance()
            names = {INT: "int", FLOAT: "float", STRING: "string", REGEX: "regex"}
            return ast.Literal(self.pos(start), names[kind], start.value)
        if kind == DURATION:
            self.advance()
            return ast.DurationLit(self.pos(start), tuple(start.value))  # type: ignore[arg-type]
        if kind == TIME:
            self.advance()
            return ast.TimeLit(self.pos(start), start.text)
        if self.is_op("["):
            self.advance()
            items: list[ast.Expr] = []
            while not self.is_op("]"):
                items.append(self.expression())
                if not self.is_op(","):
                    break
                self.advance()
            self.expect_op("]")
            return ast.ArrayExpr(self.pos(start), tuple(items))
        if self.is_op("{"):
            return self.record(start)
        if self.is_op("("):
            if self._function_ahead():
                return self.function(start)
            self.advance()
            inner = self.expression()
            self.expect_op(")")
            return inner
        self.fail("expected an expression")
        raise AssertionError  # fail raised

    def record(self, start: Token) -> ast.Expr:
        self.advance()
        if self.tok.kind == IDENT and self.peek().kind == IDENT and self.peek().text == "with":
            base = self.ident().text
            base_pos = self.pos(start)
            self.advance()
            props = self.properties("}")
            return ast.RecordExpr(self.pos(start), props, ast.Ident(base_pos, base))
        return ast.RecordExpr(self.pos(start), self.properties("}"))

    def _function_ahead(self) -> bool:
        """Whether the ``(`` here opens a parameter list: its ``)`` is followed by ``=>``."""
        depth, j = 0, self.i
        while j < len(self.tokens):
            token = self.tokens[j]
            if token.kind == OP and token.text in ("(", "[", "{"):
                depth += 1
            elif token.kind == OP and token.text in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    after = self.tokens[j + 1] if j + 1 < len(self.tokens) else token
                    return after.kind == OP and after.text == "=>"
            elif token.kind == EOF:
                return False
            j += 1
        return False

    def function(self, start: Token) -> ast.Expr:
        self.expect_op("(")
        params: list[ast.Param] = []
        while not self.is_op(")"):
            name = self.ident().text
            default: ast.Expr | None = None
            pipe = False
            if self.is_op("="):
                self.advance()
                if self.is_op("<-"):
                    self.advance()
                    pipe = True
                else:
                    default = self.expression()
            params.append(ast.Param(name, default, pipe))
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(")")
        self.expect_op("=>")
        if self.is_op("{"):
            self.fail("function blocks ({ ... return ... }) are not supported; use an expression")
        return ast.FunctionLit(self.pos(start), tuple(params), self.expression())


def parse(text: str) -> ast.Program:
    """Parse a Flux program; a syntax error is a ``QueryError`` naming line and column."""
    return _Parser(text).program()
