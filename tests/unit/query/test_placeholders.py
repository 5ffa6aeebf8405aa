"""Positional placeholders become DataFusion's $n, outside literals and comments."""

from __future__ import annotations

from flight_iox.query.placeholders import rewrite_placeholders


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
