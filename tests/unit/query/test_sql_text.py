"""Statement routing by SQL text: queries vs updates, INSERT parts."""

from __future__ import annotations

import pytest

from flight_iox.errors import BadRequestError
from flight_iox.query.sql_text import is_query, parse_insert


@pytest.mark.parametrize(
    ("sql", "query"),
    [
        ("SELECT 1", True),
        ("  -- note\n(WITH a AS (SELECT 1) SELECT * FROM a)", True),
        ("SELEC 1", True),  # a typo gets the engine's syntax error
        ("/* x */ insert into t values (1)", False),
        ("DELETE FROM t", False),
        ("create table t (a int)", False),
    ],
)
def test_is_query(sql: str, query: bool) -> None:
    assert is_query(sql) is query


def test_parse_insert() -> None:
    insert = parse_insert('INSERT INTO "my-db".iox.Cpu (host, "Usage", time) VALUES (?, ?, ?)')
    assert insert is not None
    assert insert.target == ["my-db", "iox", "cpu"]
    assert insert.columns == ["host", "Usage", "time"]
    assert insert.values_are_placeholders
    select = parse_insert("insert into cpu select * from mem;")
    assert select is not None and select.columns is None and not select.values_are_placeholders
    assert parse_insert("SELECT 1") is None
    with pytest.raises(BadRequestError):
        parse_insert("INSERT cpu DEFAULT VALUES")
