"""Annotated CSV formatting, column-wise: times, floats, quoting, blocks and table ids."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.errors import BadRequestError
from flight_iox.flux.annotated_csv import (
    Dialect,
    Writer,
    format_column,
    format_float,
    format_time,
    table_starts,
)


def test_times_are_rfc3339_without_trailing_zeros() -> None:
    times = pa.array(
        [0, 1_600_000_000_120_000_000, 1_600_000_000_000_000_001, None], pa.timestamp("ns")
    )
    assert format_time(times).to_pylist() == [
        "1970-01-01T00:00:00Z",
        "2020-09-13T12:26:40.12Z",
        "2020-09-13T12:26:40.000000001Z",
        None,
    ]


def test_floats_are_written_as_go_does() -> None:
    values = pa.array([1.5, 100.0, 1e21, 1e-7, float("inf"), float("-inf"), float("nan"), None])
    assert format_float(values).to_pylist() == [
        "1.5", "100", "1000000000000000000000", "0.0000001", "+Inf", "-Inf", "NaN", None,
    ]  # fmt: skip


def test_strings_are_quoted_only_when_needed() -> None:
    values = pa.array(["plain", "a,b", 'say "hi"', " lead", "two\nlines", ""])
    assert format_column(values, ",").to_pylist() == [
        "plain", '"a,b"', '"say ""hi"""', '" lead"', '"two\nlines"', "",
    ]  # fmt: skip
    assert format_column(pa.array(["a;b", "a,b"]), ";").to_pylist() == ['"a;b"', "a,b"]


def test_table_starts_where_any_key_value_changes_nulls_included() -> None:
    data = pa.table({"k": ["a", "a", "b", "b", None, None], "j": [1, 2, 2, 2, 2, 2]})
    assert table_starts(data, ["k"]).tolist() == [0, 2, 4]
    assert table_starts(data, ["k", "j"]).tolist() == [0, 1, 2, 4]
    assert table_starts(data, []).tolist() == [0]
    assert table_starts(data.slice(0, 0), ["k"]).tolist() == []


def test_blocks_share_a_schema_and_tables_are_numbered() -> None:
    writer = Writer(Dialect(annotations=("datatype", "group", "default")))
    t = pa.table({"_value": [1.0, 2.0], "host": ["a", "a"], "region": [None, None]})
    u = pa.table({"_value": [3.0], "host": ["b"], "region": ["west"]})
    key = ("host", "region")
    text = b"".join(writer.result("r", [(key, t), (key, t), (key, u)])).decode()
    assert text == (
        "#datatype,string,long,double,string\r\n#group,false,false,false,true\r\n"
        "#default,r,,,\r\n,result,table,_value,host\r\n"
        ",,0,1,a\r\n,,0,2,a\r\n,,1,1,a\r\n,,1,2,a\r\n"
        "\r\n#datatype,string,long,double,string,string\r\n#group,false,false,false,true,true\r\n"
        "#default,r,,,,\r\n,result,table,_value,host,region\r\n,,2,3,b,west\r\n\r\n"
    )


def test_without_annotations_rows_name_their_result() -> None:
    writer = Writer(Dialect())
    text = b"".join(writer.result("_result", [((), pa.table({"_value": ["x"]}))])).decode()
    assert text == ",result,table,_value\r\n,_result,0,x\r\n\r\n"
    assert b"".join(Writer(Dialect()).result("_result", [])) == b"\r\n"


def test_error_table() -> None:
    writer = Writer(Dialect(annotations=("datatype", "group", "default")))
    assert writer.error('bad, "very"').decode() == (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
        ',"bad, ""very""",\r\n'
    )


@pytest.mark.parametrize(
    "dialect",
    [{"annotations": ["nope"]}, {"delimiter": ",,"}, {"dateTimeFormat": "unix"}, {"header": 1}, []],
)
def test_bad_dialects_are_400(dialect: object) -> None:
    with pytest.raises(BadRequestError):
        Dialect.of(dialect)
