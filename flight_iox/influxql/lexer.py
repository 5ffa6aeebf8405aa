"""The InfluxQL scanner: tokens with positions, regexes scanned only where the parser wants one.

A ``/`` is division in ``a / b`` but opens a regex in ``FROM /cpu.*/``; only the
parser knows which, so it asks for :meth:`Scanner.regex` at those places, as
InfluxDB's own scanner does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flight_iox.errors import QueryError

# Token kinds.
IDENT = "IDENT"  # bare or double-quoted identifier (``quoted`` says which)
STRING = "STRING"
INTEGER = "INTEGER"
NUMBER = "NUMBER"
DURATION = "DURATION"
OP = "OP"
EOF = "EOF"
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

DURATION_UNITS: dict[str, int] = {
    "ns": 1,
    "u": 1_000,
    "µ": 1_000,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}

# ASCII digits only: ``\d`` and ``str.isdigit`` also take other scripts' digits (and "²").
_DURATION = re.compile(r"(?:[0-9]+(?:ns|ms|us|µ|u|s|m|h|d|w))+(?![A-Za-z0-9_])")
_DURATION_PART = re.compile(r"([0-9]+)(ns|ms|us|µ|u|s|m|h|d|w)")
_NUMBER = re.compile(r"([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = frozenset("0123456789")
# Escapes Python's re does not know (``/d\isk/``) mean the letter itself, as in IOx.
_KNOWN_ESCAPES = set("abfnrtvdDsSwWAZBxuUN")
_UNKNOWN_ESCAPE = re.compile(
    r"\\(["
    + "".join(c for c in map(chr, range(65, 123)) if c.isalpha() and c not in _KNOWN_ESCAPES)
    + "])"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS: tuple[str, ...] = (
    "::",
    "=~",
    "!~",
    "!=",
    "<>",
    "<=",
    ">=",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
)
_OPERATORS += ("&", "|", "^", "(", ")", ",", ";", ".", ":")  # ":" after "::" (INTO :MEASUREMENT)
_OPERATOR = re.compile("|".join(re.escape(op) for op in _OPERATORS))  # longest first
# Whitespace, ``-- line`` and ``/* block */`` comments (an open block runs to the end).
_SKIP = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z))*", re.DOTALL)


@dataclass(frozen=True)
class Token:
    """One token; ``pos`` is the offset of its first character in the query text."""

    kind: str
    text: str
    pos: int
    quoted: bool = False

    def keyword(self) -> str | None:
        """The upper-cased text of a bare identifier (keywords are case-insensitive)."""
        return self.text.upper() if self.kind == IDENT and not self.quoted else None


def duration_nanos(text: str) -> int:
    """Nanoseconds in a duration literal such as ``1h30m``.

    Each number must fit an int64, as in InfluxDB (which also keeps Python's int()
    from meeting its 4300-digit limit); otherwise ``QueryError``.
    """
    total = 0
    for number, unit in _DURATION_PART.findall(text):
        if len(number) > 19 or int(number) > INT64_MAX:
            raise QueryError(f"invalid duration {text[:40]!r}: {number[:20]}... overflows")
        total += int(number) * DURATION_UNITS[unit]
    return total


def integer_value(text: str) -> int | None:
    """An integer literal's value, or None past uint64 (InfluxDB cannot parse those)."""
    if len(text) > 20 or int(text) > UINT64_MAX:
        return None
    return int(text)


def position_text(query: str, pos: int) -> str:
    """InfluxDB's ``line N, char M`` for an offset (both 1-based)."""
    line = query.count("\n", 0, pos) + 1
    char = pos - (query.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, char {char}"


class Scanner:
    """Turns query text into tokens, one lookahead at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._pos = 0
        self._peeked: Token | None = None

    def error(self, message: str, pos: int) -> QueryError:
        """A parse error that says where."""
        return QueryError(f"error parsing query: {message} at {position_text(self.text, pos)}")

    def peek(self) -> Token:
        """The next token, not consumed."""
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def next(self) -> Token:
        """The next token, consumed."""
        token = self.peek()
        self._peeked = None
        return token

    def regex(self) -> str | None:
        """If the next token is ``/``, scan a regex body up to the closing ``/``."""
        token = self.peek()
        if token.kind != OP or token.text != "/":
            return None
        i, out = token.pos + 1, []
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\" and i + 1 < len(self.text) and self.text[i + 1] == "/":
                out.append("/")
                i += 2
                continue
            if ch == "/":
                self._pos, self._peeked = i + 1, None
                return _UNKNOWN_ESCAPE.sub(r"\1", "".join(out))
            out.append(ch)
            i += 1
        raise self.error("unterminated regex", token.pos)

    def _scan(self) -> Token:
        text = self.text
        i = _SKIP.match(text, self._pos).end()  # type: ignore[union-attr]
        if i >= len(text):
            self._pos = i
            return Token(EOF, "", i)
        ch = text[i]
        if ch in "'\"":
            value, end = self._quoted(i, ch)
            self._pos = end
            return Token(STRING if ch == "'" else IDENT, value, i, quoted=ch == '"')
        if ch in _DIGITS or (ch == "." and i + 1 < len(text) and text[i + 1] in _DIGITS):
            match = _DURATION.match(text, i)
            if match:
                self._pos = match.end()
                return Token(DURATION, match.group(), i)
            match = _NUMBER.match(text, i)
            assert match is not None
            self._pos = match.end()
            kind = INTEGER if match.group().isdigit() else NUMBER
            return Token(kind, match.group(), i)
        match = _IDENT.match(text, i) or _OPERATOR.match(text, i)
        if match:
            self._pos = match.end()
            return Token(IDENT if match.re is _IDENT else OP, match.group(), i)
        raise self.error(f"found {ch}, expected a token", i)

    def _quoted(self, start: int, quote: str) -> tuple[str, int]:
        text, i, out = self.text, start + 1, []
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt if nxt in "\\'\"" else "\\" + nxt))
                i += 2
                continue
            if ch == quote:
                return "".join(out), i + 1
            if ch == "\n":
                break
            out.append(ch)
            i += 1
        kind = "string" if quote == "'" else "identifier"
        raise self.error(f"unterminated quoted {kind}", start)
