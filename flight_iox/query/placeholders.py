"""Positional ``?`` placeholders, rewritten to DataFusion's ``$1 .. $n``.

Flight SQL clients (ADBC, JDBC, the DB-API) bind parameters by position with
``?``. DataFusion plans ``$n``. The rewrite skips string literals, quoted
identifiers and comments, so a ``?`` inside them is left alone.
"""

from __future__ import annotations

import re

# One alternation, scanned left to right: things to skip, then the two placeholder forms.
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'          # string literal
      | "(?:[^"]|"")*"          # quoted identifier
      | --[^\n]*                # line comment
      | /\*.*?\*/               # block comment
      | \$(?P<dollar>\d+)       # $n placeholder
      | (?P<question>\?)        # ? placeholder
    """,
    re.VERBOSE | re.DOTALL,
)


def rewrite_placeholders(sql: str) -> tuple[str, int]:
    """Replace each ``?`` with ``$1, $2, ...``; return the SQL and the parameter count."""
    count = 0
    highest_dollar = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count, highest_dollar
        if match.group("question"):
            count += 1
            return f"${count}"
        if match.group("dollar"):
            highest_dollar = max(highest_dollar, int(match.group("dollar")))
        return match.group(0)

    rewritten = _TOKENS.sub(replace, sql)
    return rewritten, max(count, highest_dollar)
