"""The one SQL tokenizer: every module that reads SQL text reads it through ``tokenize``.

Regexes over SQL text were how tokens for one database reached another: a comment
inside a name (``other/**/.iox.cpu``), an E-string, ``$$``-quoting. A tokenizer knows
where every string, quoted identifier and comment starts and ends, so nothing hides
inside them. It is sqlglot's, chosen by measurement (``bench/sql_tokenizer.py``,
docs/benchmarks.md): DataFusion's own parser is not exposed to Python below a full
logical plan (which needs every table registered and gives no token positions).

sqlglot's PostgreSQL tokenizer is set to read what DataFusion's (sqlparser's generic
dialect) reads, and where they would disagree the text is refused:

- ``--`` comments end at a newline only; ``/* */`` comments nest;
- ``"..."`` and ```...``` are quoted identifiers (a doubled quote escapes it);
  ``'...'`` strings double their quote; ``E'...'`` strings take backslash escapes;
- ``$$...$$`` and ``$tag$...$tag$`` are strings, ``$1`` and ``$name`` placeholders
  (the tag is letters, digits and ``_``, as sqlparser reads it);
- no Jinja ``{# #}`` comments, and a statement is never turned into one opaque string
  (sqlglot does that after ``SHOW``/``EXECUTE``);
- whatever sqlglot skipped between two tokens is checked to be only whitespace and
  comments by DataFusion's rules (``_check_gap``), so no text is seen by one and not the
  other.

The token stream (``tokenize``) is cached per statement text, so the statement a Flight
SQL client prepares, plans and runs is read once. Token ``start``/``end`` are offsets in
the text (``sql[token.start:token.end]`` is the token's source), so rewriting replaces
exactly the token's text and keeps every other character as the client sent it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import ClassVar, NamedTuple, TypeVar

from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenizerCore
from sqlglot.tokens import Token as SqlglotToken
from sqlglot.tokens import TokenType

from flight_iox.errors import QueryError

__all__ = [
    "LITERAL_TYPES",
    "Token",
    "TokenType",
    "clear_caches",
    "name_at",
    "per_statement",
    "tokenize",
    "words",
]

LITERAL_TYPES = frozenset(
    {
        TokenType.STRING,
        TokenType.BYTE_STRING,  # E'...'
        TokenType.HEREDOC_STRING,  # $$...$$, $tag$...$tag$
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.UNICODE_STRING,
        TokenType.RAW_STRING,
    }
)
"""Token types of string literals (their ``value`` is the decoded string)."""

T = TypeVar("T")
_CACHES: list[Callable[[], None]] = []


def clear_caches() -> None:
    """Forget every statement read so far (benchmarks measure the first reading)."""
    for clear in _CACHES:
        clear()


def per_statement(
    maxsize: int = 512, longest: int = 64 * 1024
) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Cache a function of a statement's text per text, as ``statement_cache`` keeps plans.

    A Flight SQL statement is read several times (prepare, schema, plan, run): the
    tokenizer then runs once. Texts longer than ``longest`` (bulk ``INSERT ... VALUES``)
    are not kept. Cached results are shared: they must not be changed.
    """

    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        cached = lru_cache(maxsize=maxsize)(function)
        _CACHES.append(cached.cache_clear)

        @wraps(function)
        def read(sql: str) -> T:
            return function(sql) if len(sql) > longest else cached(sql)

        return read

    return decorate


class _DataFusionCore(TokenizerCore):
    """sqlglot's scanner with sqlparser's rule for ``$``."""

    __slots__ = ()

    def _scan_string(self, start: str) -> bool:
        # sqlparser: ``$`` then letters/digits/_; a ``$`` right after makes it a tag
        # (``$tag$...$tag$``), anything else a placeholder (``$1``, ``$name``). sqlglot takes
        # the tag up to the next ``$`` whatever it holds, so ``($1,$2)`` would be a string.
        if start == "$" and self._peek != "$":
            end = self._current
            while end < self.size and (self.sql[end].isalnum() or self.sql[end] == "_"):
                end += 1
            if end >= self.size or self.sql[end] != "$":
                self._add(TokenType.PARAMETER)
                return True
        return bool(super()._scan_string(start))


class DataFusionTokenizer(Postgres.Tokenizer):
    """sqlglot's PostgreSQL tokenizer, reading SQL as DataFusion's parser does."""

    IDENTIFIERS: ClassVar = ['"', "`"]
    COMMANDS: ClassVar = set()  # never swallow the rest of a statement as one string
    COMMENTS_TERMINATE_AT_NEWLINE_ONLY = True
    HEREDOC_TAG_IS_IDENTIFIER = False  # the tag rule is _DataFusionCore's

    def _init_core(self) -> TokenizerCore:
        core = super()._init_core()
        core.__class__ = _DataFusionCore  # same slots: only ``_scan_string`` differs
        return core


DataFusionTokenizer._COMMENTS.pop("{#", None)  # sqlglot adds Jinja comments to every dialect
_local = threading.local()


class Token(NamedTuple):
    """One token: its sqlglot type, its place in the text, and what it means.

    - ``text``: the source, ``sql[start:end]``;
    - ``value``: a string literal's decoded value, a quoted identifier's name, else ``text``;
    - ``word``: an unquoted word (keyword or identifier) lower-cased, else ``""``.

    A multi-word keyword sqlglot reads as one token (``GROUP BY``, ``PRIMARY KEY``) comes
    out as one token per word, each with that keyword's type.
    """

    type: TokenType
    text: str
    start: int
    end: int
    value: str
    word: str

    @property
    def token_type(self) -> TokenType:
        """``type`` under sqlglot's name, so code written for sqlglot's tokens takes these."""
        return self.type

    @property
    def quoted(self) -> bool:
        """A quoted identifier (``"Name"``), whose name keeps its case."""
        return self.type is TokenType.IDENTIFIER

    @property
    def literal(self) -> bool:
        """A string literal of any form (``'..'``, ``E'..'``, ``$$..$$``, ...)."""
        return self.type in LITERAL_TYPES

    @property
    def name(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case), or None."""
        if self.type is TokenType.IDENTIFIER:
            return self.value
        return self.word or None


@per_statement(maxsize=64, longest=16 * 1024)  # tokens take ~200 bytes each
def tokenize(sql: str) -> tuple[Token, ...]:
    """The tokens of ``sql``, comments and whitespace left out (cached per text).

    Raises ``QueryError`` for text DataFusion would not read either: an unterminated
    string, quoted identifier or comment, or a malformed literal.

    This is the stream to build any SQL check on (routing, placeholders, the IOx
    function rewrite, expression size limits): parentheses are ``TokenType.L_PAREN`` /
    ``R_PAREN``, operators have their own types (``PLUS``, ``STAR``, ``AND``, ...),
    placeholders are ``PLACEHOLDER`` (``?``) or ``PARAMETER`` (``$1``, ``$name``).
    """
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:  # one per thread: a tokenizer keeps its state while it runs
        tokenizer = _local.tokenizer = DataFusionTokenizer()
    try:
        raw = tokenizer.tokenize(sql) if sql else []
    except TokenError:
        raise QueryError(_unreadable(sql)) from None
    return _tokens(sql, raw)


@per_statement()
def words(sql: str) -> frozenset[str]:
    """Every unquoted word of ``sql``, lower-cased: a cheap "does it name X" test."""
    return frozenset(token.word for token in tokenize(sql) if token.word)


def name_at(tokens: tuple[Token, ...], index: int) -> tuple[list[str], int] | None:
    """The dotted name (``a."B".c``, up to three parts) at ``tokens[index]``.

    Returns its parts (unquoted ones lower-cased) and the index after it, or None when
    no identifier starts there.
    """
    parts: list[str] = []
    while index < len(tokens):
        name = tokens[index].name
        if name is None:
            break
        parts.append(name)
        index += 1
        if len(parts) == 3 or index >= len(tokens) or tokens[index].type is not TokenType.DOT:
            break
        index += 1
    if not parts or tokens[index - 1].type is TokenType.DOT:
        return None
    return parts, index


def _tokens(sql: str, raw: list[SqlglotToken]) -> tuple[Token, ...]:
    """sqlglot's tokens as ``Token``s, the text between them checked (``_check_gap``)."""
    out: list[Token] = []
    previous_end, index = 0, 0
    while index < len(raw):
        token = raw[index]
        index += 1
        kind, start, end = token.token_type, token.start, token.end + 1
        gap = sql[previous_end:start]
        if gap and not gap.isspace():
            _check_gap(sql, previous_end, start)
        text = sql[start:end]
        if kind is TokenType.PARAMETER and text == "$" and index < len(raw):
            after = raw[index]  # ``$1``/``$name``: sqlglot reads ``$`` and ``1``/``name``
            if after.start == end and after.token_type in _PARAMETER_NAMES:
                index += 1
                end = after.end + 1
                text = sql[start:end]
        previous_end = end
        if kind is TokenType.IDENTIFIER or kind in LITERAL_TYPES:
            out.append(Token(kind, text, start, end, token.text, ""))
        elif " " in token.text:  # a multi-word keyword: one token per word
            out.extend(_split_words(kind, sql, start, end))
        else:
            word = text.lower() if text[:1].isalpha() or text[:1] == "_" else ""
            out.append(Token(kind, text, start, end, text, word))
    tail = sql[previous_end:]
    if tail and not tail.isspace():
        _check_gap(sql, previous_end, len(sql))
    return tuple(out)


_PARAMETER_NAMES = frozenset({TokenType.NUMBER, TokenType.VAR})


def _split_words(kind: TokenType, sql: str, start: int, end: int) -> list[Token]:
    tokens, position = [], start
    for part in sql[start:end].split():
        at = sql.index(part, position)
        tokens.append(Token(kind, part, at, at + len(part), part, part.lower()))
        position = at + len(part)
    return tokens


def _check_gap(sql: str, start: int, end: int) -> None:
    """``sql[start:end]``, skipped by sqlglot, must be whitespace and comments for DataFusion.

    sqlparser ends a ``--`` comment at a newline only and nests ``/* */``; text that it
    would read as anything else (or as a comment running into the next token) is refused.
    """
    i = start
    while i < end:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            if newline < 0:
                newline = len(sql)
            if newline > end:
                raise QueryError(_unreadable(sql, i))
            i = newline + 1
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while depth and i < end:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            if depth:
                raise QueryError(_unreadable(sql, i))
        else:
            raise QueryError(_unreadable(sql, i))


def _unreadable(sql: str, at: int | None = None) -> str:
    where = f" near character {at + 1}: {sql[max(at - 20, 0) : at + 20]!r}" if at else ""
    return (
        "SQL syntax error: unterminated string, quoted identifier or comment, or an "
        f"invalid literal{where}"
    )
