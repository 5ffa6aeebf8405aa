"""CREATE TABLE column lists map onto tags, fields and time (flight_iox/persist/ddl.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole
from flight_iox.engine.catalog import Column
from flight_iox.errors import BadRequestError, NotSupportedError
from flight_iox.persist.ddl import table_columns


def test_primary_key_columns_are_the_tags() -> None:
    columns = table_columns(
        '(time TIMESTAMP NOT NULL, "Host" VARCHAR, region TEXT, usage DOUBLE, n INT,'
        ' u BIGINT UNSIGNED, ok BOOLEAN, f REAL, CONSTRAINT pk PRIMARY KEY ("Host", time))'
    )
    assert columns == {
        "time": Column(ColumnRole.TIME, TIME_TYPE),
        "Host": Column(ColumnRole.TAG, TAG_TYPE),
        "region": Column(ColumnRole.FIELD, pa.string()),
        "usage": Column(ColumnRole.FIELD, pa.float64()),
        "n": Column(ColumnRole.FIELD, pa.int64()),
        "u": Column(ColumnRole.FIELD, pa.uint64()),
        "ok": Column(ColumnRole.FIELD, pa.bool_()),
        "f": Column(ColumnRole.FIELD, pa.float64()),
    }


def test_without_a_primary_key_string_columns_are_tags() -> None:
    columns = table_columns("(host VARCHAR, v DOUBLE, time TIMESTAMP)")
    assert columns["host"] == Column(ColumnRole.TAG, TAG_TYPE)
    assert columns["v"] == Column(ColumnRole.FIELD, pa.float64())


def test_column_primary_key_and_default() -> None:
    columns = table_columns("(host VARCHAR PRIMARY KEY, note VARCHAR DEFAULT 'x', time TIMESTAMP)")
    assert columns["host"].role is ColumnRole.TAG
    assert columns["note"] == Column(ColumnRole.FIELD, pa.string())


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("(id INTEGER, x VARCHAR)", BadRequestError, "needs a 'time' column"),
        ("(time VARCHAR)", BadRequestError, "needs a 'time' column"),
        ("(time TIMESTAMP, d DECIMAL(8, 2))", BadRequestError, "column 'd'"),
        ("(time TIMESTAMP, at TIMESTAMP)", BadRequestError, "column 'at'"),
        ("(time TIMESTAMP, n INT, PRIMARY KEY (n, time))", BadRequestError, "must be a string"),
        ("(time TIMESTAMP, PRIMARY KEY (nope))", BadRequestError, "invalid CREATE TABLE"),
        ("(time TIMESTAMP, x INT UNIQUE)", NotSupportedError, "UNIQUE"),
        ("(time TIMESTAMP, x INT, UNIQUE (x))", NotSupportedError, "UNIQUE"),
        ("(time TIMESTAMP, x INT REFERENCES other (x))", NotSupportedError, "REFERENCES"),
        ("(time TIMESTAMP, x INT, CHECK (x > 0))", NotSupportedError, "CHECK"),
        ("(time TIMESTAMP, x NOSUCHTYPE)", BadRequestError, "invalid CREATE TABLE"),
    ],
)
def test_refused_definitions(body: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        table_columns(body)
