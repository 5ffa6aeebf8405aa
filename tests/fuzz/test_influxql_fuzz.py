"""Fuzz the InfluxQL scanner and parser (``lexer.py``, ``parser.py``, ``parse_show.py``).

Property: any text either parses into statements or raises ``QueryError`` (a 400
with a position), never another exception (IndexError, RecursionError, ValueError...).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flight_iox.errors import QueryError
from flight_iox.influxql.parser import Parser

_SEEDS = [
    'SELECT mean("usage") AS m, count(DISTINCT x) FROM cpu, /d.*/ WHERE time > now() - 1h '
    "AND host =~ /a\\/b/ GROUP BY time(10s, 1s), host fill(-1) ORDER BY time DESC LIMIT 2 "
    "OFFSET 1 SLIMIT 3 SOFFSET 4 tz('UTC')",
    'SELECT x::float, *::tag INTO "other"..t FROM "autogen"."cpu", db..mem, db.rp.disk',
    "SELECT a FROM (SELECT max(b) AS a FROM m GROUP BY *) WHERE a <> 1.5e3 OR NOT_A = 'x'",
    'SHOW TAG VALUES ON db FROM m WITH KEY IN ("a", "b") WHERE x = 1 LIMIT 2 OFFSET 1',
    "SHOW TAG VALUES EXACT CARDINALITY FROM m WITH KEY =~ /h.*/",
    "SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /c.*/ WHERE host = 'a' LIMIT 1",
    "SHOW SERIES EXACT CARDINALITY; SHOW FIELD KEYS FROM cpu; SHOW RETENTION POLICIES ON d",
    "SHOW TAG KEYS FROM m; SHOW MEASUREMENT CARDINALITY; SHOW DATABASES",
    'CREATE DATABASE x WITH DURATION 1d; DROP DATABASE "y"',
    "EXPLAIN ANALYZE SELECT percentile(v, 95) FROM m WHERE time >= '2020-01-01T00:00:00Z' "
    "GROUP BY time(1m) fill(linear) -- comment\n /* block */",
]
_TOKENS = [
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "INTO", "SHOW", "TAG", "VALUES", "KEYS", "KEY",
    "WITH", "IN", "ON", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET", "fill", "ORDER", "time", "DESC",
    "DISTINCT", "AS", "CARDINALITY", "EXACT", "MEASUREMENT", "MEASUREMENTS", "SERIES", "FIELD",
    "CREATE", "DROP", "DATABASE", "EXPLAIN", "ANALYZE", "tz", "AND", "OR", "TRUE", "mean",
    "count", "(", ")", ",", ";", ".", "..", "::", "=~", "!~", "=", "<>", "!=", "<", ">=", "+", "-",
    "*", "/", "%", "&", "|", "^", "'s'", '"q"', "'", '"', "\\", "/re/", "/a\\/b/", "1", "1.5",
    ".5", "1e3", "10s", "1h30m", "5µ", "99999999999999999999", "-", "--c\n", "/*", "*/", " ",
    "\n", "\t", "é", "\x00", "cpu", "x", "_",
]  # fmt: skip


def _parses_or_query_error(text: str) -> None:
    try:
        Parser(text).statements()  # not ``parse``: its cache would hide repeated work
    except QueryError as error:
        assert error.message.startswith(("error parsing query", "expected", "invalid duration"))


def _mutated(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with slices deleted or replaced by tokens, positions modulo its length."""
    for position, length, token in edits:
        at = position % (len(text) + 1)
        text = text[:at] + token + text[at + length % 4 :]
    return text


@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _parses_or_query_error(text)


@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map(" ".join))
def test_token_soup(text: str) -> None:
    _parses_or_query_error(text)


@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_token_soup_without_spaces(text: str) -> None:
    _parses_or_query_error(text)


@given(
    st.builds(
        _mutated,
        st.sampled_from(_SEEDS),
        st.lists(
            st.tuples(st.integers(0, 300), st.integers(0, 3), st.sampled_from(_TOKENS)),
            max_size=4,
        ),
    )
)
def test_mutated_valid_queries(text: str) -> None:
    _parses_or_query_error(text)


@given(
    st.sampled_from(
        ["(", "-", "+", "SELECT a FROM (", "((SELECT a FROM m", "count(", "a + (", "/"]
    ),
    st.integers(1, 20_000),
)
def test_deep_nesting_is_an_error_not_a_crash(opener: str, depth: int) -> None:
    _parses_or_query_error("SELECT " + opener * depth + "1" + ")" * depth + " FROM m")
    _parses_or_query_error(opener * depth)


@given(
    st.sampled_from(
        [
            "SELECT {} FROM m",
            "SELECT a FROM m LIMIT {}",
            "SELECT a FROM m fill({})",
            "SELECT a FROM m WHERE time > now() - {}h",
            "SELECT {}.5e{} FROM m",
        ]
    ),
    st.integers(1, 6_000),
)
def test_long_numbers(template: str, digits: int) -> None:
    _parses_or_query_error(template.format("9" * digits, "9" * digits))
