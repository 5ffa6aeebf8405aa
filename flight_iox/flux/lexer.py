"""The Flux scanner: tokens with their line and column, regexes only where an operand may start.

A ``/`` divides in ``a / b`` and opens a regex in ``r.host =~ /^a/``. Flux's own scanner
decides by what the parser expects; here the previous token decides, which is the same
rule for the expressions Flux allows (an operand never directly follows another operand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flight_iox.errors import QueryError

IDENT = "IDENT"
INT = "INT"
FLOAT = "FLOAT"
STRING = "STRING"
DURATION = "DURATION"
TIME = "TIME"
REGEX = "REGEX"
OP = "OP"
EOF = "EOF"

KEYWORDS = frozenset(
    ("and", "or", "not", "if", "then", "else", "import", "package", "option", "return", "with")
)

_OPERATORS = (
    "|>", "<-", "=>", "==", "!=", "<=", ">=", "=~", "!~",
    "<", ">", "=", "+", "-", "*", "/", "%", "^",
    "(", ")", "[", "]", "{", "}", ",", ":", ".", "?",
)  # fmt: skip
_SPACE = re.compile(r"(?:\s+|//[^\n]*)+")
_IDENT = re.compile(r"[^\W\d]\w*")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2}))?"
)
_DURATION = re.compile(r"(?:[0-9]+(?:mo|ms|us|µs|ns|y|w|d|h|m|s))+(?![\w])")
_DURATION_PART = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|w|d|h|m|s)")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
# Tokens after which an operand ends, so a ``/`` there is division.
_OPERAND_END = frozenset((IDENT, INT, FLOAT, STRING, DURATION, TIME, REGEX))

DURATION_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


@dataclass(frozen=True)
class Token:
    """One token; ``line``/``col`` are 1-based, as Flux reports positions."""

    kind: str
    text: str
    line: int
    col: int
    value: object = None


def duration_parts(text: str) -> list[tuple[int, str]]:
    """``1h30m`` as ``[(1, "h"), (30, "m")]``."""
    return [(int(n), unit) for n, unit in _DURATION_PART.findall(text)]


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with ``EOF``; a character no token starts with is a 400."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0

    def at(offset: int) -> tuple[int, int]:
        return line, offset - line_start + 1

    while True:
        space = _SPACE.match(text, pos)
        if space:
            chunk = space.group()
            newlines = chunk.count("\n")
            if newlines:
                line += newlines
                line_start = pos + chunk.rindex("\n") + 1
            pos = space.end()
        if pos >= len(text):
            tokens.append(Token(EOF, "", *at(pos)))
            return tokens
        ln, col = at(pos)
        ch = text[pos]
        previous = tokens[-1] if tokens else None
        operand_ended = previous is not None and (
            previous.kind in _OPERAND_END or previous.text in (")", "]", "}")
        )
        if ch == '"':
            value, end, lines = _string(text, pos, ln, col)
            tokens.append(Token(STRING, text[pos:end], ln, col, value))
            if lines:
                line += lines
                line_start = text.rindex("\n", pos, end) + 1
            pos = end
            continue
        if ch == "/" and not operand_ended:
            end = _regex_end(text, pos, ln, col)
            pattern = text[pos + 1 : end - 1].replace("\\/", "/")
            tokens.append(Token(REGEX, text[pos:end], ln, col, pattern))
            pos = end
            continue
        if ch.isdigit():
            token = _numeric(text, pos, ln, col)
            tokens.append(token)
            pos += len(token.text)
            continue
        ident = _IDENT.match(text, pos)
        if ident:
            tokens.append(Token(IDENT, ident.group(), ln, col, ident.group()))
            pos = ident.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, pos):
                tokens.append(Token(OP, op, ln, col))
                pos += len(op)
                break
        else:
            raise QueryError(f"error @{ln}:{col}: invalid character {ch!r}")


def _numeric(text: str, pos: int, line: int, col: int) -> Token:
    time = _TIME.match(text, pos)
    if time:
        return Token(TIME, time.group(), line, col, time.group())
    duration = _DURATION.match(text, pos)
    if duration:
        return Token(DURATION, duration.group(), line, col, duration_parts(duration.group()))
    number = _NUMBER.match(text, pos)
    assert number is not None  # text[pos] is a digit
    if number.group(1):
        return Token(FLOAT, number.group(), line, col, float(number.group()))
    return Token(INT, number.group(), line, col, int(number.group()))


def _string(text: str, pos: int, line: int, col: int) -> tuple[str, int, int]:
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1, text.count("\n", pos, i)
        if ch == "\\" and i + 1 < len(text):
            escaped = _ESCAPES.get(text[i + 1])
            if escaped is None:
                raise QueryError(f"error @{line}:{col}: invalid escape \\{text[i + 1]} in string")
            out.append(escaped)
            i += 2
            continue
        if ch == "$" and text.startswith("${", i):
            raise QueryError(
                f"error @{line}:{col}: string interpolation (${{...}}) is not supported "
                "by flight-iox; build the string with +"
            )
        out.append(ch)
        i += 1
    raise QueryError(f"error @{line}:{col}: string literal not terminated")


def _regex_end(text: str, pos: int, line: int, col: int) -> int:
    i = pos + 1
    while i < len(text) and text[i] != "\n":
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "/":
            return i + 1
        i += 1
    raise QueryError(f"error @{line}:{col}: regex literal not terminated")
