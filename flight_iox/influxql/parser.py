"""A recursive-descent InfluxQL parser: text in, :mod:`flight_iox.influxql.ast` statements out.

Errors carry InfluxDB's position text (``at line 1, char 8``). The grammar follows
the InfluxQL specification (influxdb 1.x ``influxql`` package); SHOW statements are
in :mod:`flight_iox.influxql.parse_show`, reading tokens in ``token_reader.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.lexer import (
    DURATION,
    EOF,
    IDENT,
    INTEGER,
    NUMBER,
    OP,
    STRING,
    duration_nanos,
)
from flight_iox.influxql.token_reader import TokenReader

PARSED_TEXTS = 256  # recent query texts whose statements are kept
# Binary operator -> precedence (higher binds tighter), as InfluxDB's.
PRECEDENCE: dict[str, int] = {
    "OR": 1,
    "AND": 2,
    "=": 4,
    "!=": 4,
    "<>": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "=~": 4,
    "!~": 4,
    "+": 5,
    "-": 5,
    "|": 5,
    "^": 5,
    "*": 6,
    "/": 6,
    "%": 6,
    "&": 6,
}
CASTS = {"float", "integer", "string", "boolean", "field", "tag", "unsigned"}


class Parser(TokenReader):
    """Parses one query text (one or more statements separated by ``;``)."""

    # --- statements ----------------------------------------------------------------------

    def statements(self) -> list[ast.Statement]:
        """Every statement of the text."""
        out: list[ast.Statement] = []
        while True:
            while self.accept_op(";"):
                pass
            if self.scanner.peek().kind == EOF:
                return out
            out.append(self.statement())
            token = self.scanner.peek()
            if token.kind != EOF and not (token.kind == OP and token.text == ";"):
                raise self.error(";", token)

    def statement(self) -> ast.Statement:
        """One statement, picked by its first keyword."""
        from flight_iox.influxql.parse_show import STATEMENT_PARSERS

        token = self.scanner.peek()
        handler: Callable[[Parser], ast.Statement] | None = STATEMENT_PARSERS.get(
            token.keyword() or ""
        )
        if handler is None:
            raise self.error("SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER")
        return handler(self)

    def select(self) -> ast.SelectStatement:
        """``SELECT fields [INTO] FROM sources [WHERE] [GROUP BY] [fill] [ORDER BY] [LIMIT]...``."""
        self.expect_keyword("SELECT")
        fields = [self.select_field()]
        while self.accept_op(","):
            fields.append(self.select_field())
        into = None
        if self.accept_keyword("INTO"):
            into = self.measurement()
        self.expect_keyword("FROM")
        sources = self.sources()
        condition = self.expr() if self.accept_keyword("WHERE") else None
        dimensions: list[ast.Expr] = []
        if self.accept_keyword("GROUP"):
            self.expect_keyword("BY")
            dimensions.append(self.dimension())
            while self.accept_op(","):
                dimensions.append(self.dimension())
        fill = self.fill() if self.peek_keyword("FILL") else ast.Fill()
        descending = self.order_by()
        limits = {"LIMIT": 0, "OFFSET": 0, "SLIMIT": 0, "SOFFSET": 0}
        while (word := self.accept_keyword(*limits)) is not None:
            limits[word] = self.integer()
        timezone = None
        if self.accept_keyword("TZ"):
            self.expect_op("(")
            timezone = self.string()
            self.expect_op(")")
        return ast.SelectStatement(
            fields=tuple(fields),
            sources=tuple(sources),
            into=into,
            condition=condition,
            dimensions=tuple(dimensions),
            fill=fill,
            descending=descending,
            limit=limits["LIMIT"],
            offset=limits["OFFSET"],
            slimit=limits["SLIMIT"],
            soffset=limits["SOFFSET"],
            timezone=timezone,
        )

    def select_field(self) -> ast.Field:
        """One SELECT item: an expression (or ``DISTINCT x``) with an optional alias."""
        if self.accept_keyword("DISTINCT"):
            token = self.scanner.peek()
            inner = self.unary() if token.kind == OP and token.text == "(" else self.var_ref()
            inner = inner.expr if isinstance(inner, ast.Paren) else inner
            expr: ast.Expr = ast.Call("distinct", (inner,))
        else:
            expr = self.expr()
        alias = self.ident() if self.accept_keyword("AS") else None
        return ast.Field(expr, alias)

    def var_ref(self) -> ast.VarRef:
        """A column name with an optional ``::type``."""
        name = self.ident()
        return ast.VarRef(name, self.cast())

    def cast(self) -> str | None:
        """An optional ``::type`` suffix."""
        if not self.accept_op("::"):
            return None
        token = self.scanner.next()
        kind = (token.keyword() or "").lower()
        if kind not in CASTS:
            raise self.error("float, integer, string, boolean, unsigned, field, tag", token)
        return kind

    def sources(self) -> list[ast.Source]:
        """A comma-separated FROM list."""
        out = [self.source()]
        while self.accept_op(","):
            out.append(self.source())
        return out

    def source(self) -> ast.Source:
        """A measurement, a regex or a subquery."""
        if self.accept_op("("):
            self._nest()
            statement = self.select()
            self.expect_op(")")
            self._nesting -= 1
            return ast.SubQuery(statement)
        return self.measurement()

    def measurement(self) -> ast.Measurement:
        """``[db.][rp.]name`` or ``[db.][rp.]/regex/``."""
        parts: list[str] = []
        while True:
            regex = self.scanner.regex()
            if regex is not None:
                break
            token = self.scanner.peek()
            if token.kind == OP and token.text == "." and parts:
                parts.append("")  # db..measurement: the default retention policy
            elif token.kind == OP and token.text == ":":  # INTO ...:MEASUREMENT (into.py)
                self.scanner.next()
                parts.append(":" + self.ident())
            else:
                parts.append(self.ident())
            if not self.accept_op("."):
                break
        if regex is None:
            *prefix, name = parts
        else:
            prefix, name = parts, None
        if len(prefix) > 2:
            raise self.error("measurement", self.scanner.peek())
        # One prefix is a retention policy (rp.m), two are a database and one (db.rp.m).
        database = prefix[0] if len(prefix) == 2 else None
        retention = prefix[-1] if prefix else None
        return ast.Measurement(name, regex, database, retention)

    def dimension(self) -> ast.Expr:
        """A GROUP BY item: ``time(...)``, a tag, ``*`` or a regex."""
        regex = self.scanner.regex()
        if regex is not None:
            return ast.RegexLit(regex)
        return self.expr()

    def fill(self) -> ast.Fill:
        """``fill(null|none|previous|linear|number)``."""
        self.expect_keyword("FILL")
        self.expect_op("(")
        token = self.scanner.next()
        negative = False
        if token.kind == OP and token.text == "-":
            negative, token = True, self.scanner.next()
        if token.kind in (INTEGER, NUMBER):
            value: float | int = (
                self.integer_value(token) if token.kind == INTEGER else float(token.text)
            )
            result = ast.Fill("value", -value if negative else value)
        elif (token.keyword() or "") in ("NULL", "NONE", "PREVIOUS", "LINEAR"):
            result = ast.Fill(token.text.lower())
        else:
            raise self.error("null, none, previous, linear or a number", token)
        self.expect_op(")")
        return result

    def order_by(self) -> bool:
        """``ORDER BY time [ASC|DESC]`` (or ``ORDER BY DESC``); True when descending."""
        if not self.accept_keyword("ORDER"):
            return False
        self.expect_keyword("BY")
        if self.peek_keyword("ASC", "DESC"):
            return self.scanner.next().text.upper() == "DESC"
        token = self.scanner.next()
        if token.kind != IDENT or token.text.lower() != "time":
            raise self.error("time", token)
        return self.accept_keyword("ASC", "DESC") == "DESC"

    # --- expressions ---------------------------------------------------------------------

    def expr(self, min_precedence: int = 1) -> ast.Expr:
        """Precedence climbing over :data:`PRECEDENCE`."""
        lhs = self.unary()
        while True:
            token = self.scanner.peek()
            op = token.text.upper() if token.kind in (OP, IDENT) and not token.quoted else ""
            precedence = PRECEDENCE.get(op, 0)
            if precedence < min_precedence or (token.kind == IDENT and op not in ("AND", "OR")):
                return lhs
            self.scanner.next()
            if op in ("=~", "!~"):
                regex = self.scanner.regex()
                rhs: ast.Expr = ast.RegexLit(regex) if regex is not None else self.unary()
            else:
                rhs = self.expr(precedence + 1)
            lhs = ast.BinaryExpr(op.lower(), lhs, rhs)

    def unary(self) -> ast.Expr:
        """A primary expression, with an optional leading ``-`` or ``+``."""
        self._nest()
        expr = self._unary()
        self._nesting -= 1
        return expr

    def _unary(self) -> ast.Expr:
        token = self.scanner.peek()
        if token.kind == OP and token.text in "-+":
            self.scanner.next()
            operand = self.unary()
            if token.text == "+":
                return operand
            if isinstance(operand, ast.NumberLit):
                return ast.NumberLit(-operand.value, operand.is_integer)
            if isinstance(operand, ast.DurationLit):
                return ast.DurationLit(-operand.nanos)
            return ast.BinaryExpr("*", ast.NumberLit(-1, True), operand)
        return self.primary()

    def primary(self) -> ast.Expr:
        """Literals, references, calls, ``*``, regexes and parentheses."""
        regex = self.scanner.regex()
        if regex is not None:
            return ast.RegexLit(regex)
        token = self.scanner.next()
        if token.kind == OP and token.text == "(":
            inner = self.expr()
            self.expect_op(")")
            return ast.Paren(inner)
        if token.kind == OP and token.text == "*":
            cast = self.cast()
            if cast not in (None, "field", "tag"):
                raise self.error("field or tag", token)
            return ast.Wildcard(cast)
        if token.kind == STRING:
            return ast.StringLit(token.text)
        if token.kind == INTEGER:
            return ast.NumberLit(self.integer_value(token), True)
        if token.kind == NUMBER:
            return ast.NumberLit(float(token.text))
        if token.kind == DURATION:
            return ast.DurationLit(duration_nanos(token.text))
        if token.kind == IDENT:
            word = token.keyword()
            if word in ("TRUE", "FALSE"):
                return ast.BoolLit(word == "TRUE")
            nxt = self.scanner.peek()
            if not token.quoted and nxt.kind == OP and nxt.text == "(":
                return self.call(token.text.lower())
            return ast.VarRef(token.text, self.cast())
        raise self.error("identifier, string, number, bool", token)

    def call(self, name: str) -> ast.Call:
        """``name(args)``; ``count(DISTINCT x)`` becomes ``count(distinct(x))``."""
        self.expect_op("(")
        args: list[ast.Expr] = []
        if self.accept_op(")"):
            return ast.Call(name, ())
        while True:
            if self.accept_keyword("DISTINCT"):
                args.append(ast.Call("distinct", (self.var_ref(),)))
            else:
                args.append(self.expr())
            if self.accept_op(")"):
                return ast.Call(name, tuple(args))
            self.expect_op(",")


def parse(text: str) -> list[ast.Statement]:
    """Parse a query text into its statements.

    Dashboards and TSBS-like clients repeat the same texts, so the (immutable) statements
    of recent texts are kept; a text that does not parse raises each time.
    """
    return list(_parsed(text))


@lru_cache(maxsize=PARSED_TEXTS)
def _parsed(text: str) -> tuple[ast.Statement, ...]:
    return tuple(Parser(text).statements())


def parse_one(text: str) -> ast.Statement:
    """Parse exactly one statement."""
    statements = parse(text)
    if len(statements) != 1:
        raise QueryError(f"expected one statement, found {len(statements)}")
    return statements[0]
