"""Grammar points of the line-protocol parser, each with the value it must produce."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.errors import InvalidPrecisionError
from flight_iox.ingest import Precision, parse_line_protocol, parse_precision
from flight_iox.ingest.parse import parse_body

DEFAULT = 1_000


def parse(body: bytes | str, precision: Precision = Precision.NANOSECOND):
    return parse_line_protocol(body, precision=precision, default_time_ns=DEFAULT)


def one(body: bytes | str, precision: Precision = Precision.NANOSECOND):
    result = parse(body, precision)
    assert result.errors == []
    (batch,) = result.batches
    return batch


@pytest.mark.parametrize("fast_path", [True, False])
def test_simple_line_both_paths(fast_path: bool) -> None:
    result = parse_body(
        b"cpu,host=a,region=eu usage=1.5,n=3i,u=4u,ok=t,s=\"x\" 123\n",
        precision=Precision.NANOSECOND, default_time_ns=0, fast_path=fast_path, min_fast_lines=1,
    )  # fmt: skip
    (batch,) = result.batches
    assert batch.measurement == "cpu"
    assert batch.tags["host"].to_pylist() == ["a"]
    assert batch.tags["host"].type == pa.dictionary(pa.int32(), pa.string())
    assert batch.fields["usage"].type == pa.float64()
    assert batch.fields["n"].to_pylist() == [3] and batch.fields["n"].type == pa.int64()
    assert batch.fields["u"].type == pa.uint64()
    assert batch.fields["ok"].to_pylist() == [True]
    assert batch.fields["s"].to_pylist() == ["x"]
    assert batch.time.to_pylist() == [123]
    assert batch.line_numbers.type == pa.int32()


def test_escapes() -> None:
    batch = one(r'my\ cpu\,x,ho\ st=a\=b\,c f\=k="say \"hi\" \\ \n"' + "\n")
    assert batch.measurement == "my cpu,x"
    assert batch.tags["ho st"].to_pylist() == ["a=b,c"]
    assert batch.fields["f=k"].to_pylist() == ['say "hi" \\ \\n']


def test_backslash_before_other_chars_is_literal() -> None:
    batch = one(r"m\x,t=a\b v=1")
    assert batch.measurement == r"m\x"
    assert batch.tags["t"].to_pylist() == [r"a\b"]


@pytest.mark.parametrize("text", ["t", "T", "true", "True", "TRUE"])
def test_true_spellings(text: str) -> None:
    assert one(f"m v={text}").fields["v"].to_pylist() == [True]


@pytest.mark.parametrize("text", ["f", "F", "false", "False", "FALSE"])
def test_false_spellings(text: str) -> None:
    assert one(f"m v={text}").fields["v"].to_pylist() == [False]


@pytest.mark.parametrize("text", ["tRUE", "yes", "truee"])
def test_bad_booleans(text: str) -> None:
    assert parse(f"m v={text}").errors[0].line_number == 1


@pytest.mark.parametrize(
    ("text", "value"), [("1e-4", 1e-4), ("-1.5E+10", -1.5e10), (".5", 0.5), ("5.", 5.0), ("7", 7.0)]
)
def test_floats(text: str, value: float) -> None:
    assert one(f"m v={text}").fields["v"].to_pylist() == [value]


@pytest.mark.parametrize("text", ["1e400", "-inf", "NaN", "1.2.3", "1e", "1_0"])
def test_bad_floats(text: str) -> None:
    assert len(parse(f"m v={text}").errors) == 1


def test_integers_and_unsigned() -> None:
    batch = one("m a=-9223372036854775808i,b=18446744073709551615u")
    assert batch.fields["a"].to_pylist() == [-(2**63)]
    assert batch.fields["b"].to_pylist() == [2**64 - 1]
    for bad in ["m a=9223372036854775808i", "m b=-1u", "m b=18446744073709551616u", "m a=1.5i"]:
        assert len(parse(bad).errors) == 1, bad


def test_crlf_comments_blank_lines() -> None:
    result = parse(b"# comment\r\n\r\n   \ncpu v=1 10\r\n  # indented\ncpu v=2 20\r\n")
    assert result.errors == []
    assert result.line_count == 2
    (batch,) = result.batches
    assert batch.time.to_pylist() == [10, 20]
    assert batch.line_numbers.to_pylist() == [4, 6]


def test_missing_timestamp_uses_default() -> None:
    assert one("m v=1").time.to_pylist() == [DEFAULT]
    assert one("m v=1", Precision.SECOND).time.to_pylist() == [DEFAULT]


def test_precision_multiplies() -> None:
    assert one("m v=1 5", Precision.SECOND).time.to_pylist() == [5_000_000_000]
    assert one("m v=1 5", Precision.MILLISECOND).time.to_pylist() == [5_000_000]
    assert one("m v=1 5", Precision.MICROSECOND).time.to_pylist() == [5_000]
    assert one("m v=1 -5", Precision.MINUTE).time.to_pylist() == [-300_000_000_000]


def test_auto_precision_guesses_per_value() -> None:
    body = (
        "m v=1 1708976567\nm v=2 1708976567123\nm v=3 1708976567123456\nm v=4 1708976567123456789"
    )
    times = one(body, Precision.AUTO).time.to_pylist()
    assert times == [1708976567000000000, 1708976567123000000, 1708976567123456000,
                     1708976567123456789]  # fmt: skip


def test_timestamp_overflow_is_rejected() -> None:
    result = parse("m v=1 9223372036854775807\nm v=2 9223372036854775807", Precision.SECOND)
    assert [e.line_number for e in result.errors] == [1, 2]
    assert result.batches == []
    assert len(parse("m v=1 9223372036854775808").errors) == 1


def test_type_conflict_first_type_wins() -> None:
    result = parse("m usage=1.5\nm usage=2i\nm usage=3.5")
    (error,) = result.errors
    assert error.line_number == 2
    assert error.message == (
        'field type conflict on column "usage": line has integer, earlier lines have float'
    )
    assert error.original_line == "m usage=2i"
    assert result.batches[0].fields["usage"].to_pylist() == [1.5, 3.5]


def test_rejected_line_adds_no_type() -> None:
    result = parse("m x=1i\nm x=1.0,y=1i\nm y=1.0")
    assert [e.line_number for e in result.errors] == [2]
    assert result.batches[0].fields["y"].to_pylist() == [None, 1.0]


def test_invalid_utf8_rejected_per_line() -> None:
    result = parse(b'm v=1\nm,t=\xff\xfe v=2\nm s="\xc3\x28"\nm v=3')
    assert [e.line_number for e in result.errors] == [2, 3]
    assert "UTF-8" in result.errors[0].message
    assert result.batches[0].fields["v"].to_pylist() == [1.0, 3.0]
    assert "\ufffd" in result.line_text(2)


def test_empty_body() -> None:
    for body in (b"", b"\n\n", "# only a comment\n"):
        result = parse(body)
        assert (result.batches, result.errors, result.line_count) == ([], [], 0)


def test_multiline_string_takes_following_lines() -> None:
    result = parse('m s="a\nm v=1i\nb" 5\nm v=2i 6')
    assert result.errors == []
    (batch,) = result.batches
    assert batch.fields["s"].to_pylist() == ["a\nm v=1i\nb", None]
    assert batch.line_numbers.to_pylist() == [1, 4]


def test_sparse_columns_and_measurement_order() -> None:
    result = parse('b x=1\na,t=1 y=2i\nb,t=2 z="s"\n')
    assert [b.measurement for b in result.batches] == ["b", "a"]
    b = result.batches[0]
    assert b.tags["t"].to_pylist() == [None, "2"]
    assert b.fields["x"].to_pylist() == [1.0, None]
    assert b.fields["z"].to_pylist() == [None, "s"]


def test_duplicate_tag_rejected_duplicate_field_last_wins() -> None:
    result = parse("m,t=1,t=2 v=1\nm v=1,v=2")
    assert [e.line_number for e in result.errors] == [1]
    assert result.batches[0].fields["v"].to_pylist() == [2.0]


def test_error_names_column() -> None:
    (error,) = parse("cpu,host=a usage=12x").errors
    assert "at column 18" in error.message and "usage" in error.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ns", Precision.NANOSECOND), ("n", Precision.NANOSECOND), (None, Precision.NANOSECOND),
     ("", Precision.NANOSECOND), ("us", Precision.MICROSECOND), ("u", Precision.MICROSECOND),
     ("ms", Precision.MILLISECOND), ("s", Precision.SECOND), ("m", Precision.MINUTE),
     ("h", Precision.HOUR), ("second", Precision.SECOND), ("microsecond", Precision.MICROSECOND),
     ("auto", Precision.AUTO)],
)  # fmt: skip
def test_parse_precision(name: str | None, expected: Precision) -> None:
    assert parse_precision(name) is expected


def test_unknown_precision() -> None:
    with pytest.raises(InvalidPrecisionError, match=r"'fortnight'.*ns"):
        parse_precision("fortnight")
