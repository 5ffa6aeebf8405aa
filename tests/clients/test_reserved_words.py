"""The dialect's reserved words are exactly the words DataFusion cannot take as bare names.

DataFusion's parser (sqlparser) exposes no keyword list, so the list is derived by asking it:
every candidate word (all keywords sqlglot knows in any dialect, and every reserved word of
SQLAlchemy's dialects) is put, unquoted, in each place the dialect writes a name — column,
qualified column, alias, table, table alias, subquery alias, WHERE, GROUP BY, ORDER BY and a
``CREATE TABLE`` column list — and a word is reserved when one of those fails to parse or
means something else (``current_date`` is a function, ``true`` a literal). The dialect ships
the result as a constant (it must not need DataFusion); this test fails when DataFusion's
answer changes. Regenerate ``clients/sqlalchemy_flight_iox/keywords.py`` with
``python tests/clients/test_reserved_words.py``.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pyarrow as pa
from datafusion import SessionContext
from sqlalchemy.sql import compiler
from sqlglot.dialects.dialect import Dialect

from sqlalchemy_flight_iox import FlightIoxDialect
from sqlalchemy_flight_iox.keywords import DATAFUSION_RESERVED

_SQLALCHEMY_DIALECTS = (
    "sqlalchemy.dialects.mssql.base",
    "sqlalchemy.dialects.mysql.reserved_words",
    "sqlalchemy.dialects.oracle.base",
    "sqlalchemy.dialects.postgresql.base",
    "sqlalchemy.dialects.sqlite.base",
)

# Statements with a bare word ``{w}`` in every place the dialect writes a name, and the
# output column names they must give (``w`` stands for the word). Table ``{w}`` has columns
# ``{w}`` = 1 and ``x`` = 2.
_PROBES: tuple[tuple[str, list[str]], ...] = (
    ("SELECT {w} FROM {w}", ["w"]),
    ("SELECT {w}, x FROM {w}", ["w", "x"]),
    ("SELECT DISTINCT x, {w} FROM {w} WHERE {w} = 1 AND x = 2 OR {w} IS NULL", ["x", "w"]),
    (
        "SELECT {w}.{w} AS a, {w}.x AS {w}, x AS b FROM {w} AS {w} "
        "WHERE {w}.{w} IN (1, 2) ORDER BY {w}.{w} DESC, x LIMIT 1 OFFSET 0",
        ["a", "w", "b"],
    ),
    (
        "SELECT {w}, count(*) AS n, max({w}) AS m FROM {w} GROUP BY {w} "
        "HAVING count(*) > 0 ORDER BY {w}",
        ["w", "n", "m"],
    ),
    (
        "SELECT {w}.x FROM (SELECT x FROM {w}) AS {w} JOIN {w} AS b ON {w}.x = b.x WHERE {w}.x > 0",
        ["x"],
    ),
    ("SELECT x FROM {w} ORDER BY {w}", ["x"]),
)


def candidate_words() -> list[str]:
    """Every keyword sqlglot knows in any dialect, and every SQLAlchemy reserved word."""
    words = {
        keyword.lower() for d in Dialect.classes.values() for keyword in d.tokenizer_class.KEYWORDS
    }
    words |= {word.lower() for word in compiler.RESERVED_WORDS}
    for name in _SQLALCHEMY_DIALECTS:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if attribute.upper().startswith("RESERVED_WORDS") and isinstance(
                value, set | frozenset
            ):
                words |= {word.lower() for word in value}
    return sorted(word for word in words if re.fullmatch(r"[a-z_][a-z0-9_]*", word))


def _bare_name_works(context: SessionContext, word: str, number: int) -> bool:
    context.register_record_batches(word, [[pa.record_batch({word: [1], "x": [2]})]])
    for probe, names in _PROBES:
        expected = [word if name == "w" else name for name in names]
        try:
            if context.sql(probe.format(w=word)).schema().names != expected:
                return False
        except Exception:  # any DataFusion error: parse, plan or "not implemented"
            return False
    table = f"created_{number}"
    try:
        context.sql(f"CREATE TABLE {table} ({word} BIGINT, x BIGINT, PRIMARY KEY (x, {word}))")
    except Exception:
        return False
    return context.table(table).schema().names == [word, "x"]


def datafusion_reserved() -> frozenset[str]:
    """The candidate words DataFusion does not take as bare names."""
    context = SessionContext()
    return frozenset(
        word
        for number, word in enumerate(candidate_words())
        if word != "x" and not _bare_name_works(context, word, number)
    )


def test_reserved_words_are_what_datafusion_reserves() -> None:
    derived = datafusion_reserved()
    assert {"index", "key", "from", "current_date", "true"} <= derived
    assert derived == DATAFUSION_RESERVED, (
        f"missing {sorted(derived - DATAFUSION_RESERVED)}, "
        f"no longer reserved {sorted(DATAFUSION_RESERVED - derived)}: "
        "run python tests/clients/test_reserved_words.py"
    )


def test_the_dialect_quotes_every_reserved_word() -> None:
    preparer = FlightIoxDialect().identifier_preparer
    for word in DATAFUSION_RESERVED:
        assert preparer.quote(word) == f'"{word}"'
    assert preparer.quote("usage") == "usage"


def _write_keywords_module() -> None:
    words = sorted(datafusion_reserved())
    lines = ['"""Words DataFusion\'s SQL parser does not take as bare names.', ""]
    lines += [
        "Derived by asking DataFusion (``tests/clients/test_reserved_words.py``, which also",
        "regenerates this file); the dialect quotes each of them wherever it writes a name.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "DATAFUSION_RESERVED = frozenset(",
        "    {",
        *(f'        "{word}",' for word in words),
        "    }",
        ")",
        "",
    ]
    target = Path(__file__).resolve().parents[2] / "clients/sqlalchemy_flight_iox/keywords.py"
    target.write_text("\n".join(lines))
    print(f"{len(words)} words written to {target}", file=sys.stderr)


if __name__ == "__main__":
    _write_keywords_module()
