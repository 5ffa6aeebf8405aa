"""Name rules, checked once at the edge.

Database names become folder and namespace names, so they are strict: ASCII
letters, digits, ``_`` and ``-``, starting with a letter or digit, at most 64
characters. Nothing else (no ``/``, ``.``, ``..``) can escape a folder. Table
and column names come from line protocol and may hold almost anything, but
never control characters, and are never pasted into SQL unquoted.
"""

from __future__ import annotations

import re

from flight_iox.errors import InvalidNameError

_DATABASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_IDENTIFIER_BYTES = 512
RESERVED_DATABASES = frozenset({"system", "information_schema", "iox"})


def validate_database_name(name: str | None) -> str:
    """Return ``name`` if it is a valid database name, else raise ``InvalidNameError``."""
    if not name:
        raise InvalidNameError("database name is missing (use the db or bucket parameter)")
    if not _DATABASE_NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid database name {name!r}: use 1-64 ASCII letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    if name.lower() in RESERVED_DATABASES:
        raise InvalidNameError(f"invalid database name {name!r}: the name is reserved")
    return name


def identifier_problem(name: str) -> str | None:
    """Why a table or column name is not acceptable, or None when it is."""
    if not name:
        return "name is empty"
    if _CONTROL.search(name):
        return f"name {name!r} contains a control character"
    try:
        size = len(name.encode())
    except UnicodeEncodeError:  # a lone surrogate, which JSON's "\ud800" can carry
        return f"name {name!r} is not valid Unicode"
    if size > MAX_IDENTIFIER_BYTES:
        return f"name is longer than {MAX_IDENTIFIER_BYTES} bytes"
    return None


def quote_identifier(name: str) -> str:
    """Quote an identifier for DataFusion SQL."""
    return '"' + name.replace('"', '""') + '"'
