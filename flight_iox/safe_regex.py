"""Regexes from user input on RE2: InfluxQL's (``FROM /cpu.*/``, tag keys) and SQL LIKE patterns.

Python's ``re`` backtracks: ``/^(.|.|.|.|.|.|.|.)*!$/`` against a 9-character table name
took 7.5 s, holding the GIL, so the whole server (``/health`` included) stalled. RE2 runs in
time linear in the text, and it is the engine InfluxDB itself uses (Go's ``regexp`` has RE2
syntax), so the patterns mean what InfluxDB users expect; a LIKE pattern's ``%`` runs
would backtrack in ``re`` just the same. Patterns RE2 refuses
(backreferences, lookaround) get a clear 400. Regexes pushed into SQL run in DataFusion's
Rust ``regex`` crate, which is linear too.
"""

from __future__ import annotations

import functools

import re2

from flight_iox.errors import RegexError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # refused patterns are the client's error, not the server log's


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re2._Regexp:
    """``pattern`` compiled by RE2, or ``RegexError`` naming what RE2 refused."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(f"invalid regex /{pattern}/: {reason} (regexes use RE2 syntax)") from None


def regex_fullmatch(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches all of ``text``."""
    return compile_regex(pattern).fullmatch(text) is not None


def regex_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (as Go's ``MatchString``)."""
    return compile_regex(pattern).search(text) is not None
