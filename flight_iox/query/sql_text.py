"""Just enough reading of SQL to route a statement: no parser, no rewriting.

Shared by the transports (Flight SQL, HTTP) and the statements the engine runs
itself (INSERT, DELETE, DROP TABLE, CREATE TABLE), so statements are read one
way, through the one tokenizer (``sql_tokens``): a comment, a quoted name or a
string literal never counts as a keyword or a name.

- ``is_query``: whether a statement returns rows or changes something
  (INSERT, DELETE, UPDATE, CREATE, DROP, ALTER, TRUNCATE, COPY, MERGE).
- ``parse_insert``: ``INSERT INTO <table> [(<columns>)] <query>``, split into
  its target and its query, so inserts can go through the Arrow write path.
- ``parse_change``: ``DELETE FROM``, ``DROP TABLE`` and ``CREATE TABLE``, read
  once for both the permission check and the statement that runs.
- ``statement_target``: the table a data-changing statement writes, for
  permission checks (the same reading ``parse_insert``/``parse_change`` give).

Identifiers follow DataFusion: unquoted ones fold to lower case, quoted ones
keep their case with a doubled quote as an escaped quote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flight_iox.errors import BadRequestError
from flight_iox.sql_tokens import Token, TokenType, name_at, tokenize

# Everything else, misspellings included, is planned as a query, so a typo gets
# the engine's syntax error rather than "not supported".
_UPDATE_WORDS = frozenset(
    {"insert", "delete", "update", "create", "drop", "alter", "truncate", "copy", "merge"}
)
_QUERY_STARTS = frozenset({"values", "select", "with"})


def _body(sql: str) -> tuple[Token, ...]:
    """The statement's tokens without a trailing ``;``."""
    tokens = tokenize(sql)
    if tokens and tokens[-1].type is TokenType.SEMICOLON:
        tokens = tokens[:-1]
    return tokens


def first_keyword(sql: str) -> str:
    """The statement's first word, lower-cased (after comments and parentheses)."""
    word = _leading_word(sql)
    if word is not None:  # most statements: no need to tokenize for this
        return word
    for token in tokenize(sql):
        if token.type is not TokenType.L_PAREN:
            return token.word
    return ""


def _leading_word(sql: str) -> str | None:
    """The first word when the text starts with a plain word and a space (``SELECT ...``).

    The tokenizer's first token is then that word (a keyword it reads as several words,
    ``GROUP BY``, still starts with it), so routing a query costs no tokenizing.
    """
    head = sql.lstrip()
    end = 0
    while (
        end < min(len(head), 32)
        and head[end].isascii()
        and (head[end].isalnum() or head[end] == "_")
    ):
        end += 1
    if 0 < end < len(head) and head[end].isspace() and not head[0].isdigit():
        return head[:end].lower()
    return None


R = TypeVar("R")
MEMO_TEXTS = 256  # statements whose readings are kept (a dashboard repeats a few)
MEMO_TEXT_CHARS = 16 * 1024  # longer SQL is read again each time (bounds the memory)


def per_text(read: Callable[[str], R]) -> Callable[[str], R]:
    """``read`` (a pure function of the SQL text), remembered for repeated statements.

    A plain-ADBC query reads its SQL in each of its RPCs (``is_query`` twice, the
    time check once per run): 0.1 ms of Python per query for a TSBS statement.
    """
    cached = functools.lru_cache(maxsize=MEMO_TEXTS)(read)

    @functools.wraps(read)
    def reading(sql: str) -> R:
        return cached(sql) if len(sql) <= MEMO_TEXT_CHARS else read(sql)

    return reading


@per_text
def is_query(sql: str) -> bool:
    """Whether ``sql`` returns rows rather than changing data or schema."""
    return first_keyword(sql) not in _UPDATE_WORDS


def identifier(text: str) -> str:
    """One identifier's name: unquoted folds to lower case, quoted keeps its case."""
    tokens = tokenize(text)
    name = tokens[0].name if len(tokens) == 1 else None
    if name is None:
        raise BadRequestError(f"not an identifier: {text.strip()!r}")
    return name


def name_parts(name: str) -> list[str]:
    """``a."B".c`` -> ``["a", "B", "c"]``."""
    tokens = tokenize(name)
    found = name_at(tokens, 0)
    if found is None or found[1] != len(tokens):
        raise BadRequestError(f"not a table name: {name.strip()!r}")
    return found[0]


@dataclass(frozen=True)
class Insert:
    """An ``INSERT INTO``: target parts (1 to 3), column names (None: not listed) and query."""

    target: list[str]
    columns: list[str] | None
    query: str

    @property
    def values_are_placeholders(self) -> bool:
        """``VALUES (?, ?, ...)``: one row of plain placeholders, the executemany shape."""
        tokens = _body(self.query)
        if len(tokens) < 4 or tokens[0].word != "values":
            return False
        if tokens[1].type is not TokenType.L_PAREN or tokens[-1].type is not TokenType.R_PAREN:
            return False
        inner = tokens[2:-1]
        return (
            all(
                t.type is (TokenType.PLACEHOLDER if i % 2 == 0 else TokenType.COMMA)
                for i, t in enumerate(inner)
            )
            and len(inner) % 2 == 1
        )


def parse_insert(sql: str) -> Insert | None:
    """The parts of an ``INSERT INTO ... VALUES|SELECT|WITH``; None for other statements."""
    tokens = _body(sql)
    if first_keyword(sql) != "insert":
        return None
    unsupported = BadRequestError(
        "unsupported INSERT: use INSERT INTO table [(columns)] VALUES ... or SELECT ..."
    )
    if len(tokens) < 3 or tokens[0].word != "insert" or tokens[1].word != "into":
        raise unsupported
    target = name_at(tokens, 2)
    if target is None:
        raise unsupported
    parts, index = target
    columns = None
    if index < len(tokens) and tokens[index].type is TokenType.L_PAREN:
        columns, index = _name_list(tokens, index, unsupported)
    if index >= len(tokens) or tokens[index].word not in _QUERY_STARTS:
        raise unsupported
    return Insert(parts, columns, sql[tokens[index].start : tokens[-1].end])


def _name_list(
    tokens: tuple[Token, ...], index: int, error: BadRequestError
) -> tuple[list[str], int]:
    """``(a, "B", c)`` at ``tokens[index]``: the names and the index after ``)``."""
    names: list[str] = []
    index += 1
    while index < len(tokens):
        token = tokens[index]
        if token.type is TokenType.R_PAREN:
            return names, index + 1
        if token.name is None:
            raise error
        names.append(token.name)
        index += 1
        if index < len(tokens) and tokens[index].type is TokenType.COMMA:
            index += 1
    raise error


@dataclass(frozen=True)
class Change:
    """A ``DELETE FROM``, ``DROP TABLE`` or ``CREATE TABLE`` statement, read once.

    ``clause`` is the rest of the statement as the client wrote it: the ``WHERE``
    predicate of a DELETE (None without one), the column list of a CREATE TABLE.
    ``if_exists`` is ``IF EXISTS`` (DROP) or ``IF NOT EXISTS`` (CREATE).
    """

    kind: str  # "delete" | "drop" | "create"
    target: list[str]
    if_exists: bool
    clause: str | None


def parse_change(sql: str) -> Change | None:
    """A DELETE, DROP TABLE or CREATE TABLE statement's parts; None for any other shape."""
    tokens = _body(sql)
    words = [t.word for t in tokens[:5]]
    if words[:2] == ["delete", "from"]:
        found = name_at(tokens, 2)
        if found is None:
            return None
        target, index = found
        if index == len(tokens):
            return Change("delete", target, False, None)
        if tokens[index].word != "where" or index + 1 == len(tokens):
            return None
        return Change("delete", target, False, sql[tokens[index + 1].start : tokens[-1].end])
    if words[:2] == ["drop", "table"]:
        exists = words[2:4] == ["if", "exists"]
        found = name_at(tokens, 4 if exists else 2)
        if found is None or found[1] != len(tokens):
            return None
        return Change("drop", found[0], exists, None)
    if words[:2] == ["create", "table"]:
        exists = words[2:5] == ["if", "not", "exists"]
        found = name_at(tokens, 5 if exists else 2)
        if found is None:
            return None
        target, index = found
        if index == len(tokens) or not _is_column_list(tokens, index):
            return None
        return Change("create", target, exists, sql[tokens[index].start : tokens[-1].end])
    return None


def _is_column_list(tokens: tuple[Token, ...], index: int) -> bool:
    """Whether ``tokens[index:]`` is one balanced ``( ... )``."""
    if tokens[index].type is not TokenType.L_PAREN:
        return False
    depth = 0
    for position in range(index, len(tokens)):
        kind = tokens[position].type
        depth += (kind is TokenType.L_PAREN) - (kind is TokenType.R_PAREN)
        if depth == 0:
            return position == len(tokens) - 1
    return False


def statement_target(sql: str) -> list[str] | None:
    """The table (1 to 3 name parts) an INSERT, DELETE, DROP TABLE or CREATE TABLE writes.

    None for any other statement. This is the reading the statement runs with
    (``parse_insert``, ``parse_change``), so the name a permission check sees is the
    name that is written.
    """
    insert = parse_insert(sql)
    if insert is not None:
        return insert.target
    change = parse_change(sql)
    return change.target if change is not None else None
