"""The one way a name or a text value is pasted into SQL: quoted, quotes doubled.

Table, column and tag names may hold almost anything (spaces, quotes, ``..``), so
no name reaches DataFusion SQL unquoted, and no text value unescaped. SQL and
InfluxQL compilers, Flight SQL metadata and the query engine all quote here.
"""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes, with embedded double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    """A SQL string literal in single quotes, with embedded single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"
