"""Just enough reading of SQL text to route a statement: no parser, no rewriting.

Shared by the transports (Flight SQL, HTTP) and the statements the engine runs
itself (DELETE, DROP TABLE, CREATE TABLE), so identifiers are read one way.

- ``is_query``: whether a statement returns rows or changes something
  (INSERT, DELETE, UPDATE, CREATE, DROP, ALTER, TRUNCATE, COPY, MERGE).
- ``parse_insert``: ``INSERT INTO <table> [(<columns>)] <query>``, split into
  its target and its query, so inserts can go through the Arrow write path.
- ``qualified_catalogs``: the catalogs a statement names in three-part names
  (``db.schema.table``), for permission checks.

Identifiers follow DataFusion: unquoted ones fold to lower case, quoted ones
keep their case with ``""`` as an escaped quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flight_iox.errors import BadRequestError

IDENT = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*)'
"""One identifier, quoted or not (a regex fragment)."""
NAME = rf"{IDENT}(?:\s*\.\s*{IDENT}){{0,2}}"
"""A name of up to three parts, ``catalog.schema.table`` (a regex fragment)."""
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/|\()*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
# Everything else, misspellings included, is planned as a query, so a typo gets
# the engine's syntax error rather than "not supported".
_UPDATE_WORDS = frozenset(
    {"insert", "delete", "update", "create", "drop", "alter", "truncate", "copy", "merge"}
)
_INSERT = re.compile(
    rf"\s*INSERT\s+INTO\s+(?P<table>{NAME})\s*(?:\((?P<columns>[^)]*)\))?\s*"
    rf"(?P<query>(?:VALUES|SELECT|WITH)\b.*?)\s*;?\s*",
    re.IGNORECASE | re.DOTALL,
)
_PLACEHOLDER_ROW = re.compile(r"VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.IGNORECASE)
# Strings and quoted identifiers first, so a dot inside a literal never counts.
_TOKENS = re.compile(rf"'(?:[^']|'')*'|(?P<name>{NAME})", re.DOTALL)
_IDENTS = re.compile(IDENT)


def first_keyword(sql: str) -> str:
    """The statement's first word, lower-cased (after comments and parentheses)."""
    rest = sql[_LEADING_NOISE.match(sql).end() :]  # type: ignore[union-attr]
    word = _FIRST_WORD.match(rest)
    return word.group(0).lower() if word else ""


def is_query(sql: str) -> bool:
    """Whether ``sql`` returns rows rather than changing data or schema."""
    return first_keyword(sql) not in _UPDATE_WORDS


def identifier(text: str) -> str:
    """An identifier's name: unquoted folds to lower case, quoted keeps its case."""
    text = text.strip()
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def name_parts(name: str) -> list[str]:
    """``a."B".c`` -> ``["a", "B", "c"]``."""
    return [identifier(m.group(0)) for m in _IDENTS.finditer(name)]


@dataclass(frozen=True)
class Insert:
    """An ``INSERT INTO``: target parts (1 to 3), column names (None: not listed) and query."""

    target: list[str]
    columns: list[str] | None
    query: str

    @property
    def values_are_placeholders(self) -> bool:
        """``VALUES (?, ?, ...)``: one row of plain placeholders, the executemany shape."""
        return _PLACEHOLDER_ROW.fullmatch(self.query.strip()) is not None


def parse_insert(sql: str) -> Insert | None:
    """The parts of an ``INSERT INTO ... VALUES|SELECT|WITH``; None for other statements."""
    match = _INSERT.fullmatch(sql)
    if match is None:
        if first_keyword(sql) == "insert":
            raise BadRequestError(
                "unsupported INSERT: use INSERT INTO table [(columns)] VALUES ... or SELECT ..."
            )
        return None
    columns = match.group("columns")
    names = None
    if columns is not None:
        names = [identifier(c) for c in columns.split(",") if c.strip()]
    return Insert(name_parts(match.group("table")), names, match.group("query"))


def qualified_catalogs(sql: str) -> set[str]:
    """The first part of every three-part name in ``sql``."""
    found: set[str] = set()
    for match in _TOKENS.finditer(sql):
        name = match.group("name")
        if name:
            parts = name_parts(name)
            if len(parts) == 3:
                found.add(parts[0])
    return found
