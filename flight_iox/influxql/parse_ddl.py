"""Statements that change data or administer the server: CREATE, DROP, ALTER, DELETE, GRANT...

Every form InfluxDB 1.x has is parsed, so that each is authorized by what it is
(``create``/``delete`` on its database, or an admin token) before the executor
answers it; the clauses flight-iox does not model (passwords, subscription
destinations) are read past, up to the next ``;``. Retention policies
(``parse_rp``) and continuous queries (``parse_cq``) are read in full.
"""

from __future__ import annotations

from flight_iox.influxql import ast
from flight_iox.influxql.lexer import EOF, OP
from flight_iox.influxql.parse_cq import parse_create_cq, parse_drop_cq
from flight_iox.influxql.parse_rp import parse_retention_policy
from flight_iox.influxql.parse_subscriptions import (
    parse_create_subscription,
    parse_drop_subscription,
)
from flight_iox.influxql.parser import Parser

# Second keyword of CREATE/DROP -> what it makes or removes, when it is admin-only.
_ADMIN_OBJECTS = {"USER": "user", "CONTINUOUS": "continuous query", "SUBSCRIPTION": "subscription",
                  "SHARD": "shard"}  # fmt: skip


def skip_rest(parser: Parser) -> None:
    """Read past the rest of the statement (up to ``;`` or the end)."""
    while True:
        token = parser.scanner.peek()
        if token.kind == EOF or (token.kind == OP and token.text == ";"):
            return
        parser.scanner.next()


def _admin(parser: Parser, kind: str) -> ast.Statement:
    skip_rest(parser)
    return ast.AdminStatement(kind)


def parse_create(parser: Parser) -> ast.Statement:
    """``CREATE DATABASE|RETENTION POLICY|USER|CONTINUOUS QUERY|SUBSCRIPTION ...``."""
    parser.expect_keyword("CREATE")
    word = parser.expect_keyword("DATABASE", "RETENTION", *_ADMIN_OBJECTS)
    if word == "DATABASE":
        return _database(parser, "create")
    if word == "RETENTION":
        return parse_retention_policy(parser, "create")
    if word == "CONTINUOUS":
        return parse_create_cq(parser)
    if word == "SUBSCRIPTION":
        return parse_create_subscription(parser)
    return _admin(parser, f"create {_ADMIN_OBJECTS[word]}")


def parse_drop(parser: Parser) -> ast.Statement:
    """``DROP DATABASE|MEASUREMENT|SERIES|RETENTION POLICY|USER|... ``."""
    parser.expect_keyword("DROP")
    word = parser.expect_keyword("DATABASE", "MEASUREMENT", "SERIES", "RETENTION", *_ADMIN_OBJECTS)
    if word == "DATABASE":
        return _database(parser, "drop")
    if word == "MEASUREMENT":
        return ast.DeleteStatement("drop measurement", (parser.measurement(),))
    if word == "SERIES":
        return _delete(parser, "drop series")
    if word == "RETENTION":
        return parse_retention_policy(parser, "drop")
    if word == "CONTINUOUS":
        return parse_drop_cq(parser)
    if word == "SUBSCRIPTION":
        return parse_drop_subscription(parser)
    return _admin(parser, f"drop {_ADMIN_OBJECTS[word]}")


def parse_alter(parser: Parser) -> ast.Statement:
    """``ALTER RETENTION POLICY name ON db ...``."""
    parser.expect_keyword("ALTER")
    parser.expect_keyword("RETENTION")
    return parse_retention_policy(parser, "alter")


def parse_delete(parser: Parser) -> ast.Statement:
    """``DELETE [FROM sources] [WHERE condition]`` (at least one of them)."""
    parser.expect_keyword("DELETE")
    if not parser.peek_keyword("FROM", "WHERE"):
        raise parser.error("FROM or WHERE")
    return _delete(parser, "delete")


def parse_admin(parser: Parser) -> ast.Statement:
    """``GRANT``, ``REVOKE``, ``SET PASSWORD`` and ``KILL QUERY``: admin statements."""
    word = parser.expect_keyword("GRANT", "REVOKE", "SET", "KILL")
    kind = {"SET": "set password", "KILL": "kill query"}.get(word, word.lower())
    return _admin(parser, kind)


def _delete(parser: Parser, kind: str) -> ast.Statement:
    sources = tuple(parser.sources()) if parser.accept_keyword("FROM") else ()
    condition = parser.expr() if parser.accept_keyword("WHERE") else None
    return ast.DeleteStatement(kind, sources, condition)


def _database(parser: Parser, action: str) -> ast.Statement:
    name = parser.ident()
    skip_rest(parser)  # WITH DURATION ... : retention policies are not modelled
    return ast.DatabaseStatement(action, name)
