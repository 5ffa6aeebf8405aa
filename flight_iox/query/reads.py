"""Which databases a statement can read: the ones whose tables a query refreshes first.

A query must see every write acknowledged before it started, in every table it reads, but
refreshing the tables of databases it does not read costs a snapshot each and invalidates
nothing useful. What a statement reads is decided by DataFusion at planning, after the
refresh, so this is a sound over-approximation read from the text: its default database,
plus every visible database whose name occurs in it as a word (a catalog is named only by
an identifier, quoted or not, and database names are ASCII letters, digits, ``_`` and
``-``, see ``names.py``). Text that could name a catalog some other way, or list every
catalog (``information_schema``, ``SHOW``), reads every visible database; so does a
statement with no default database. Over-approximating costs only time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Both readings of a hyphen: inside a quoted name ("db-1") and as minus (a-b).
_WORDS = (re.compile(r"[a-z0-9_]+(?:-[a-z0-9_]+)*"), re.compile(r"[a-z0-9_]+"))
# Text that may reach catalogs without spelling their names: the lists of every catalog, and
# anything a case fold or escape could turn into a name (Unicode escapes, non-ASCII letters).
_EVERY = re.compile(r"information_schema|\bshow\b|u&|[^\x00-\x7f]", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def _words(sql: str) -> frozenset[str] | None:
    """The lower-cased words of ``sql``; None if it may read any database."""
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
