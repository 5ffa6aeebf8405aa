"""``CREATE|ALTER|DROP RETENTION POLICY``: every clause InfluxDB 1.x has, read into the AST.

The clauses are kept (not skipped) because each maps to something or is refused with
a reason: DURATION is the database's retention period, DEFAULT decides whether a new
name may replace the database's one policy, SHARD DURATION and REPLICATION are read
and ignored (``influxql/retention.py`` says why).
"""

from __future__ import annotations

from flight_iox.influxql import ast
from flight_iox.influxql.lexer import DURATION, duration_nanos
from flight_iox.influxql.parser import Parser


def _duration(parser: Parser) -> int:
    """A duration literal, or ``INF`` (0: keep forever)."""
    if parser.accept_keyword("INF"):
        return 0
    token = parser.scanner.next()
    if token.kind != DURATION:
        raise parser.error("duration", token)
    return duration_nanos(token.text)


def parse_retention_policy(parser: Parser, action: str) -> ast.Statement:
    """The rest of ``<action> RETENTION POLICY name ON db ...`` (after ``RETENTION``)."""
    parser.expect_keyword("POLICY")
    name = parser.ident()
    parser.expect_keyword("ON")
    database = parser.ident()
    if action == "drop":
        return ast.RetentionPolicyStatement(action, name, database)
    values: dict[str, object] = {}
    while True:
        word = parser.accept_keyword("DURATION", "REPLICATION", "SHARD", "DEFAULT")
        if word is None:
            break
        if word == "DURATION":
            values["duration"] = _duration(parser)
        elif word == "REPLICATION":
            values["replication"] = parser.integer()
        elif word == "SHARD":
            parser.expect_keyword("DURATION")
            values["shard_duration"] = _duration(parser)
        else:
            values["default"] = True
    if action == "create" and ("duration" not in values or "replication" not in values):
        raise parser.error("DURATION and REPLICATION")
    if action == "alter" and not values:
        raise parser.error("DURATION, REPLICATION, SHARD DURATION or DEFAULT")
    return ast.RetentionPolicyStatement(action, name, database, **values)  # type: ignore[arg-type]
