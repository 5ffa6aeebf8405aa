"""The InfluxQL parser: statements, clauses and positioned errors."""

from __future__ import annotations

import pytest

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.parser import parse, parse_one


def test_select_with_every_clause() -> None:
    stmt = parse_one(
        'SELECT mean("usage") AS m, count(DISTINCT x) FROM cpu, /d.*/ '
        "WHERE time > now() - 1h AND host =~ /a\\/b/ GROUP BY time(10s, 1s), host "
        "fill(-1) ORDER BY time DESC LIMIT 2 OFFSET 1 SLIMIT 3 SOFFSET 4 tz('UTC')"
    )
    assert isinstance(stmt, ast.SelectStatement)
    assert stmt.fields[0] == ast.Field(ast.Call("mean", (ast.VarRef("usage"),)), "m")
    assert stmt.fields[1].expr == ast.Call("count", (ast.Call("distinct", (ast.VarRef("x"),)),))
    assert stmt.sources[1] == ast.Measurement(regex="d.*")
    assert stmt.dimensions[0] == ast.Call(
        "time", (ast.DurationLit(10_000_000_000), ast.DurationLit(1_000_000_000))
    )
    assert stmt.fill == ast.Fill("value", -1)
    assert (stmt.descending, stmt.limit, stmt.offset, stmt.slimit, stmt.soffset) == (
        True,
        2,
        1,
        3,
        4,
    )
    assert stmt.timezone == "UTC"


def test_regex_only_where_expected_and_division_elsewhere() -> None:
    stmt = parse_one("SELECT a / 2 FROM m WHERE t =~ /x/")
    assert isinstance(stmt, ast.SelectStatement)
    assert stmt.fields[0].expr == ast.BinaryExpr("/", ast.VarRef("a"), ast.NumberLit(2, True))
    assert stmt.condition == ast.BinaryExpr("=~", ast.VarRef("t"), ast.RegexLit("x"))


def test_measurement_prefixes() -> None:
    stmt = parse_one('SELECT x FROM "autogen"."cpu", db..mem, db.rp.disk')
    assert isinstance(stmt, ast.SelectStatement)
    assert stmt.sources == (
        ast.Measurement("cpu", retention_policy="autogen"),
        ast.Measurement("mem", database="db", retention_policy=""),
        ast.Measurement("disk", database="db", retention_policy="rp"),
    )


def test_several_statements_and_show_forms() -> None:
    statements = parse(
        'SHOW DATABASES; SHOW TAG VALUES FROM m WITH KEY IN ("a", "b") LIMIT 2; '
        "SHOW SERIES EXACT CARDINALITY; SHOW FIELD KEYS FROM cpu"
    )
    kinds = [s.kind for s in statements if isinstance(s, ast.ShowStatement)]
    assert kinds == ["databases", "tag values", "series cardinality", "field keys"]
    assert statements[1].key_values == ("a", "b")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("SELECT FROM", "char 12"),
        ("SELECT x FROM m WHERE", "char 22"),
        ("SELECT x FROM m GROUP BY time(1m) fill(bogus)", "char 40"),
        ("SELEC x", "char 1"),
        ("SELECT 'open FROM m", "char 8"),
    ],
)
def test_errors_say_where(text: str, where: str) -> None:
    with pytest.raises(QueryError, match=where):
        parse(text)


def test_casts_and_wildcards() -> None:
    stmt = parse_one("SELECT *::tag, f::integer, /x/ FROM m")
    assert isinstance(stmt, ast.SelectStatement)
    assert [f.expr for f in stmt.fields] == [
        ast.Wildcard("tag"),
        ast.VarRef("f", "integer"),
        ast.RegexLit("x"),
    ]


@pytest.mark.parametrize("text", ["SELECT ² FROM m", "SELECT a FROM m LIMIT ٣", "SELECT 1٣ FROM m"])
def test_only_ascii_digits_are_numbers(text: str) -> None:
    """Found by fuzzing: "²" passed ``str.isdigit`` and then failed an assert in the scanner."""
    with pytest.raises(QueryError, match="error parsing query"):
        parse_one(text)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT " + "(" * 5000 + "a" + ")" * 5000 + " FROM m",
        "SELECT " + "- " * 5000 + "a FROM m",  # "--" would open a comment
        "SELECT " + "f(" * 5000 + "a" + ")" * 5000 + " FROM m",
        "SELECT a FROM " + "(SELECT a FROM " * 5000 + "m" + ")" * 5000,
    ],
)
def test_deep_nesting_is_a_parse_error(text: str) -> None:
    """Found by fuzzing: deep nesting raised RecursionError (a 500) instead of a 400."""
    with pytest.raises(QueryError, match="nested more than 100 levels"):
        parse_one(text)


def test_nesting_up_to_the_limit_parses() -> None:
    stmt = parse_one("SELECT " + "(" * 90 + "a" + ")" * 90 + " FROM m")
    assert isinstance(stmt, ast.SelectStatement)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT a FROM m LIMIT " + "9" * 5000, "unable to parse integer"),
        ("SELECT " + "9" * 5000 + " FROM m", "unable to parse integer"),
        ("SELECT a FROM m fill(18446744073709551616)", "unable to parse integer"),
        ("SELECT a FROM m WHERE time > now() - " + "9" * 5000 + "h", "invalid duration"),
    ],
)
def test_numbers_too_long_for_an_integer_are_query_errors(text: str, message: str) -> None:
    """Found by fuzzing: int() of more than 4300 digits raised ValueError (a 500)."""
    with pytest.raises(QueryError, match=message):
        parse_one(text)


def test_largest_integers_still_parse() -> None:
    stmt = parse_one("SELECT a FROM m LIMIT 18446744073709551615")
    assert isinstance(stmt, ast.SelectStatement) and stmt.limit == 2**64 - 1
