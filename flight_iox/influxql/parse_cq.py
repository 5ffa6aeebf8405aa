"""``CREATE CONTINUOUS QUERY`` and ``DROP CONTINUOUS QUERY``: parsed and checked as 1.x does.

The SELECT inside ``BEGIN ... END`` is parsed by the ordinary parser, so a continuous
query runs exactly what ``SELECT ... INTO`` would; what makes it a continuous query (an
INTO target, ``GROUP BY time(..)`` with an aggregate, a RESAMPLE FOR not shorter than
the interval) is checked here, before anything is stored.
"""

from __future__ import annotations

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.lexer import DURATION, duration_nanos
from flight_iox.influxql.parser import Parser


def influxql_identifier(name: str) -> str:
    """An InfluxQL identifier in double quotes (backslash escapes, as the lexer reads them)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def group_by_time(select: ast.SelectStatement) -> tuple[int, int] | None:
    """The ``GROUP BY time(interval[, offset])`` of a SELECT, in ns (None: not grouped by time)."""
    for dim in select.dimensions:
        if isinstance(dim, ast.Call) and dim.name == "time" and dim.args:
            interval, *rest = dim.args
            if not isinstance(interval, ast.DurationLit):
                raise QueryError("GROUP BY time() of a continuous query needs a duration")
            offset = rest[0] if rest else ast.DurationLit(0)
            if not isinstance(offset, ast.DurationLit):
                raise QueryError("the GROUP BY time() offset of a continuous query is a duration")
            return interval.nanos, offset.nanos
    return None


def _resample_duration(parser: Parser) -> int:
    token = parser.scanner.next()
    if token.kind != DURATION:
        raise parser.error("duration", token)
    nanos = duration_nanos(token.text)
    if nanos <= 0:
        raise parser.scanner.error("RESAMPLE durations must be greater than 0", token.pos)
    return nanos


def _check(select: ast.SelectStatement, every: int, for_: int) -> None:
    if select.into is None:
        raise QueryError("continuous query must contain an INTO clause")
    grouping = group_by_time(select)
    if grouping is None:
        raise QueryError("continuous query must have a GROUP BY time(...) clause")
    if not any(isinstance(f.expr, ast.Call) for f in select.fields):
        raise QueryError("continuous query must contain at least one aggregate function")
    interval = grouping[0]
    if interval <= 0:
        raise QueryError("GROUP BY time() interval must be greater than 0")
    if for_ and for_ < interval:
        raise QueryError(
            f"FOR duration must be >= GROUP BY time duration: must be a minimum of "
            f"{interval} ns, got {for_} ns"
        )


def parse_create_cq(parser: Parser) -> ast.Statement:
    """The rest of ``CREATE CONTINUOUS QUERY name ON db [RESAMPLE ...] BEGIN select END``."""
    parser.expect_keyword("QUERY")
    name = parser.ident()
    parser.expect_keyword("ON")
    database = parser.ident()
    every = for_ = 0
    if parser.accept_keyword("RESAMPLE"):
        while (word := parser.accept_keyword("EVERY", "FOR")) is not None:
            if word == "EVERY":
                every = _resample_duration(parser)
            else:
                for_ = _resample_duration(parser)
        if not every and not for_:
            raise parser.error("EVERY or FOR")
    parser.expect_keyword("BEGIN")
    start = parser.scanner.peek().pos
    select = parser.select()
    end = parser.scanner.peek()
    parser.expect_keyword("END")
    _check(select, every, for_)
    resample = ""
    if every or for_:
        resample = " RESAMPLE" + (f" EVERY {every}ns" if every else "")
        resample += f" FOR {for_}ns" if for_ else ""
    body = parser.scanner.text[start : end.pos].strip()
    text = (
        f"CREATE CONTINUOUS QUERY {influxql_identifier(name)} ON {influxql_identifier(database)}"
        f"{resample} BEGIN {body} END"
    )
    return ast.ContinuousQueryStatement("create", name, database, select, every, for_, text)


def parse_drop_cq(parser: Parser) -> ast.Statement:
    """The rest of ``DROP CONTINUOUS QUERY name ON db``."""
    parser.expect_keyword("QUERY")
    name = parser.ident()
    parser.expect_keyword("ON")
    return ast.ContinuousQueryStatement("drop", name, parser.ident())
