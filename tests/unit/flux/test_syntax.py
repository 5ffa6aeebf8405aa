"""The Flux lexer and parser: tokens, precedence, positions in errors."""

from __future__ import annotations

import pytest

from flight_iox.errors import QueryError
from flight_iox.flux import ast
from flight_iox.flux.lexer import DURATION, REGEX, TIME, tokenize
from flight_iox.flux.parser import parse
from flight_iox.flux.values import Duration, Time, shift


def expr(text: str) -> ast.Expr:
    statement = parse(text).statements[0]
    assert isinstance(statement, ast.ExprStatement)
    return statement.expr


def test_tokens_distinguish_regexes_durations_and_times() -> None:
    tokens = tokenize("r.host =~ /^a\\/b/ and r._value / 2 > 1h30m or t < 2020-01-01T00:00:00.5Z")
    kinds = [(t.kind, t.text) for t in tokens if t.kind in (REGEX, DURATION, TIME)]
    assert kinds == [(REGEX, "/^a\\/b/"), (DURATION, "1h30m"), (TIME, "2020-01-01T00:00:00.5Z")]
    assert next(t for t in tokens if t.kind == REGEX).value == "^a/b"
    assert any(t.text == "/" and t.kind == "OP" for t in tokens)  # division after an operand


def test_and_binds_tighter_than_or_and_pipes_chain() -> None:
    parsed = expr("a or b and not c")
    assert isinstance(parsed, ast.Binary) and parsed.op == "or"
    assert isinstance(parsed.rhs, ast.Binary) and parsed.rhs.op == "and"
    assert isinstance(parsed.rhs.rhs, ast.Unary) and parsed.rhs.rhs.op == "not"
    pipeline = expr('from(bucket: "b") |> range(start: -1h) |> yield()')
    assert isinstance(pipeline, ast.Pipe) and isinstance(pipeline.arg, ast.Pipe)
    assert [name for name, _ in pipeline.arg.call.args] == ["start"]


def test_functions_records_and_members() -> None:
    fn = expr('(r) => ({r with _value: r["_value"] * 2.0, x: "y"})')
    assert isinstance(fn, ast.FunctionLit) and [p.name for p in fn.params] == ["r"]
    assert isinstance(fn.body, ast.RecordExpr) and fn.body.with_ is not None
    member = dict(fn.body.props)["_value"]
    assert isinstance(member, ast.Binary) and isinstance(member.lhs, ast.Member)
    assert member.lhs.prop == "_value"  # r["_value"] is r._value
    piped = expr("(tables=<-, n=3) => tables")
    assert isinstance(piped, ast.FunctionLit) and piped.params[0].pipe


def test_statements() -> None:
    program = parse(
        'import "influxdata/influxdb/schema"\noption v = {windowPeriod: 10s}\n'
        "option v.timeRangeStart = -1h\nx = 1\nx + 1\n"
    )
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == ["Import", "Assign", "Assign", "Assign", "ExprStatement"]
    option = program.statements[2]
    assert isinstance(option, ast.Assign) and option.option and option.member == "timeRangeStart"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('from(bucket: "b"', "@1:17"),
        ("x = \n  |> f()", "@2:3"),
        ('s = "open', "@1:5"),
        ("a = $", "@1:5"),
        ("f(x: 1) |> 3", "@1:12"),
        ("(r) => { return r }", "@1:8"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, where: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert where in raised.value.message


def test_nesting_is_bounded() -> None:
    with pytest.raises(QueryError, match="nested deeper"):
        parse("(" * 300 + "1" + ")" * 300)
    with pytest.raises(QueryError, match="100 operands"):
        parse("x" + " |> f()" * 500)


def test_times_and_durations() -> None:
    assert Time.parse("2020-09-13T12:26:40.000000001Z").nanos == 1_600_000_000_000_000_001
    assert Time.parse("2020-09-13T14:26:40+02:00").nanos == 1_600_000_000_000_000_000
    assert Time.parse("2020-09-13").nanos == 1_599_955_200_000_000_000
    pos = ast.Pos(1, 1)
    assert Duration.of(((1, "h"), (30, "m")), pos).nanos == 5_400_000_000_000
    month = Duration.of(((1, "mo"),), pos)
    jan31 = Time.parse("2021-01-31T00:00:00Z").nanos
    assert shift(jan31, month) == Time.parse("2021-02-28T00:00:00Z").nanos
    assert shift(jan31, -Duration.of(((1, "y"),), pos)) == Time.parse("2020-01-31T00:00:00Z").nanos
    with pytest.raises(QueryError, match="calendar"):
        month.fixed(pos)
