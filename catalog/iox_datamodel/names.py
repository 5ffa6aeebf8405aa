"""Name rules, checked once at the edge, and the one way a name becomes part of a path.

Database names become namespace names, so they are strict: ASCII letters,
digits, ``_`` and ``-``, starting with a letter or digit, at most 64 characters.
Table and column names come from line protocol and may hold almost anything
InfluxDB allows (``/``, ``.``, spaces, unicode, even ``..``), but never control
characters, never more than ``MAX_IDENTIFIER_BYTES``, and are never pasted into
SQL unquoted (``flight_iox.sql_quote``).

No name ever shapes a storage path as raw text: ``path_segment`` escapes every
byte outside ``[A-Za-z0-9_-]``, so a segment can hold no ``/``, ``\\``, ``.``,
``%`` or ``~`` and cannot climb out of its folder (see docs/persistence.md).
"""

from __future__ import annotations

import re

from iox_datamodel.errors import InvalidNameError

__all__ = [
    "MAX_IDENTIFIER_BYTES",
    "MAX_SEGMENT_CHARS",
    "RESERVED_DATABASES",
    "database_of_bucket",
    "identifier_problem",
    "path_segment",
    "validate_column_name",
    "validate_database_name",
    "validate_table_name",
]

_DATABASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_IDENTIFIER_BYTES = 512
MAX_SEGMENT_CHARS = 64
RESERVED_DATABASES = frozenset({"system", "information_schema", "iox"})


def database_of_bucket(bucket: str) -> str:
    """The database a v2 bucket names: ``db/rp`` is database ``db``, as the v1 DBRP mapping.

    Database names hold no ``/``, so the split is never ambiguous. A database has one
    retention period and v1's ``rp`` picks none of its own (``/write?rp=`` is ignored too),
    so the retention policy part names nothing more. Writes, the v2 bucket API and Flux's
    ``from(bucket:)`` all read buckets here.
    """
    database, slash, policy = bucket.partition("/")
    if slash and (not database or not policy or "/" in policy):
        raise InvalidNameError(
            f"bucket {bucket!r}: expected a database name or 'database/retention_policy'"
        )
    return database


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


def validate_table_name(name: str) -> str:
    """Return ``name`` if it is a valid table name, else raise ``InvalidNameError``."""
    if problem := identifier_problem(name):
        raise InvalidNameError(f"invalid table name: {problem}")
    return name


def validate_column_name(name: str) -> str:
    """Return ``name`` if it is a valid column name, else raise ``InvalidNameError``."""
    if problem := identifier_problem(name):
        raise InvalidNameError(f"invalid column name: {problem}")
    return name


def path_segment(name: str) -> str:
    """``name`` as one safe path segment: ``[A-Za-z0-9_-]`` kept, other bytes as ``~XX``.

    The escape is reversible up to ``MAX_SEGMENT_CHARS`` (longer names are cut at an
    escape boundary; callers that need uniqueness add an id). ``%`` is not used on
    purpose: URI parsers decode ``%2e%2e`` back into ``..``.
    """
    out: list[str] = []
    length = 0
    for byte in name.encode():
        piece = chr(byte) if byte in _SAFE_BYTES else f"~{byte:02X}"
        if length + len(piece) > MAX_SEGMENT_CHARS:
            break
        out.append(piece)
        length += len(piece)
    return "".join(out) or "_"
