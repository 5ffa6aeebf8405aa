"""Reading InfluxQL tokens for the parsers: keywords, operators, literals, errors, nesting.

The statement parsers (``parser.py``, ``parse_show.py``, ``parse_ddl.py``, …) build on
this; errors carry InfluxDB's position text (``found X, expected Y at line 1, char N``).
"""

from __future__ import annotations

from flight_iox.errors import QueryError
from flight_iox.influxql.lexer import EOF, IDENT, INTEGER, OP, STRING, Scanner, Token, integer_value

# Parentheses, signs, calls and subqueries inside one another. The parser and every
# walker of the tree recurse once per level, so deeper texts would hit Python's
# recursion limit; real queries stay far below this.
MAX_NESTING = 100


class TokenReader:
    """The token-level half of a parser over one query text."""

    def __init__(self, text: str) -> None:
        self.scanner = Scanner(text)
        self._nesting = 0

    def _nest(self) -> None:
        """One level deeper (undo with ``self._nesting -= 1``); an error past ``MAX_NESTING``."""
        self._nesting += 1
        if self._nesting > MAX_NESTING:
            raise self.scanner.error(
                f"expression nested more than {MAX_NESTING} levels deep", self.scanner.peek().pos
            )

    # --- helpers -------------------------------------------------------------------------

    def error(self, expected: str, token: Token | None = None) -> QueryError:
        """``found X, expected Y at line 1, char N``."""
        token = token or self.scanner.peek()
        found = "EOF" if token.kind == EOF else token.text
        return self.scanner.error(f"found {found}, expected {expected}", token.pos)

    def peek_keyword(self, *words: str) -> bool:
        """Whether the next token is one of the keywords."""
        return self.scanner.peek().keyword() in words

    def accept_keyword(self, *words: str) -> str | None:
        """Consume the next token if it is one of the keywords."""
        if self.peek_keyword(*words):
            return self.scanner.next().text.upper()
        return None

    def expect_keyword(self, *words: str) -> str:
        """Consume one of the keywords, or fail."""
        word = self.accept_keyword(*words)
        if word is None:
            raise self.error(", ".join(words))
        return word

    def accept_op(self, *ops: str) -> str | None:
        """Consume the next token if it is one of the operators."""
        token = self.scanner.peek()
        if token.kind == OP and token.text in ops:
            self.scanner.next()
            return token.text
        return None

    def expect_op(self, op: str) -> None:
        """Consume the operator, or fail."""
        if self.accept_op(op) is None:
            raise self.error(op)

    def ident(self) -> str:
        """An identifier, bare or double-quoted."""
        token = self.scanner.next()
        if token.kind != IDENT:
            raise self.error("identifier", token)
        return token.text

    def integer(self) -> int:
        """A non-negative integer literal."""
        token = self.scanner.next()
        if token.kind != INTEGER:
            raise self.error("integer", token)
        return self.integer_value(token)

    def integer_value(self, token: Token) -> int:
        """The value of an INTEGER token; an error past uint64."""
        value = integer_value(token.text)
        if value is None:
            raise self.scanner.error(f"unable to parse integer {token.text[:40]}", token.pos)
        return value

    def string(self) -> str:
        """A single-quoted string."""
        token = self.scanner.next()
        if token.kind != STRING:
            raise self.error("string", token)
        return token.text
