"""Positional placeholders become DataFusion's $n, outside literals and comments."""

from __future__ import annotations

import pyarrow as pa

from flight_iox.query.placeholders import cast_placeholders, rewrite_placeholders, sql_type_of


def test_question_marks_are_numbered() -> None:
    assert rewrite_placeholders("SELECT * FROM t WHERE a > ? AND b = ?") == (
        "SELECT * FROM t WHERE a > $1 AND b = $2",
        2,
    )


def test_question_marks_in_strings_identifiers_and_comments_stay() -> None:
    sql = "SELECT '?', \"what?\" FROM t -- really?\nWHERE a = ? /* ? */"
    rewritten, count = rewrite_placeholders(sql)
    assert count == 1
    assert rewritten == "SELECT '?', \"what?\" FROM t -- really?\nWHERE a = $1 /* ? */"


def test_dollar_placeholders_are_counted() -> None:
    assert rewrite_placeholders("SELECT $2, $1")[1] == 2
    assert rewrite_placeholders("SELECT 1")[1] == 0


def test_cast_placeholders_wraps_numbered_placeholders_outside_literals() -> None:
    sql = "SELECT $1 || $2, '$1' FROM t -- $2\nWHERE a = $3"
    assert cast_placeholders(sql, {1: "VARCHAR", 2: "BIGINT", 3: None}) == (
        "SELECT CAST($1 AS VARCHAR) || CAST($2 AS BIGINT), '$1' FROM t -- $2\nWHERE a = $3"
    )


def test_sql_type_of_parameter_values() -> None:
    assert sql_type_of("a") == "VARCHAR"
    assert sql_type_of(1) == "BIGINT"
    assert sql_type_of(1.5) == "DOUBLE"
    assert sql_type_of(None) == "VARCHAR"  # an untyped NULL is taken as text
    assert sql_type_of(pa.scalar(None, pa.int32())) == "INT"  # a typed NULL keeps its type
    assert sql_type_of(pa.scalar(1, pa.uint64())) == "BIGINT UNSIGNED"
    assert sql_type_of(pa.scalar("x").cast(pa.dictionary(pa.int32(), pa.string()))) == "VARCHAR"
    assert sql_type_of(pa.scalar(None, pa.list_(pa.int64()))) is None
