"""Which databases a statement's context holds: its default database and the ones it names.

This decides two things at once. What a statement sees: a context holds only these
catalogs, so ``SHOW TABLES`` and ``information_schema`` list the session's database, and
another database only when the statement names it (``other.iox.cpu``, or ``WHERE
table_catalog = 'other'``) and the principal may read it (the names come from the
principal's readable databases). And what a query refreshes first: a query must see every
write acknowledged before it started in every table it reads, but refreshing databases
it cannot read costs a snapshot each and invalidates nothing useful.

The names are a sound over-approximation read from the text: the default database, plus
every visible database whose name occurs in the statement as a word (a catalog is named
only by an identifier, quoted or not, and database names are ASCII letters, digits, ``_``
and ``-``, see ``names.py``). Text that could name a catalog some other way (a Unicode
escape, a non-ASCII letter a case fold could turn into a name) holds every visible
database; so does a statement with no default database (nothing is current then).
Over-approximating costs only time, and a listing that also shows a database the statement
merely mentions.

Tables are read the same way (``tables_read``): a table is named by an identifier, so a
statement reads only the tables whose name occurs in it as a word. Text naming ``system``
(whose tables describe every table), ``information_schema`` or ``SHOW`` (which list every
table) reads them all, as does a table whose name is not such a word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Both readings of a hyphen: inside a quoted name ("db-1") and as minus (a-b).
_WORDS = (re.compile(r"[a-z0-9_]+(?:-[a-z0-9_]+)*"), re.compile(r"[a-z0-9_]+"))
# Text that may name catalogs without spelling their names: anything a case fold or escape
# could turn into a name (Unicode escapes, non-ASCII letters).
_EVERY = re.compile(r"u&|[^\x00-\x7f]", re.IGNORECASE)
# Words of text that reads every table of a database: its system tables and its listings.
SYSTEM_WORD = "system"
_LISTINGS = frozenset({SYSTEM_WORD, "information_schema", "show"})


@functools.lru_cache(maxsize=1024)
def _words(sql: str) -> frozenset[str] | None:
    """The lower-cased words of ``sql``; None if it may name any database."""
    if _EVERY.search(sql):
        return None
    text = sql.lower()
    return frozenset(word for pattern in _WORDS for word in pattern.findall(text))


def databases_read(sql: str, database: str | None, visible: Iterable[str]) -> list[str]:
    """The databases of ``visible`` that ``sql`` may read with default ``database`` (first)."""
    words = _words(sql) if database is not None else None
    if database is None or words is None:
        return sorted(visible)
    named = sorted(n for n in visible if n != database and n.lower() in words)
    return [database, *named]


def tables_read(sql: str, tables: Iterable[str]) -> frozenset[str] | None:
    """The tables of ``tables`` that ``sql`` may read; None for all of them and ``system``."""
    words = _words(sql)
    if words is None or not words.isdisjoint(_LISTINGS):
        return None
    return frozenset(
        name for name in tables if name.lower() in words or not _WORDS[0].fullmatch(name.lower())
    )


def reads_system_rows(sql: str) -> bool:
    """Whether ``sql`` may read the rows of a ``system`` table: it names ``system``.

    A listing (``information_schema``, ``SHOW``) reads every table's name and columns,
    never a system table's rows, and the columns of the live ones are constants.
    """
    words = _words(sql)
    return words is None or SYSTEM_WORD in words
