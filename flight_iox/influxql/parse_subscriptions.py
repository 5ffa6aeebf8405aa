"""``CREATE|DROP SUBSCRIPTION`` and ``SHOW SUBSCRIPTIONS``, as InfluxDB 1.x has them.

    CREATE SUBSCRIPTION "s" ON "db"."autogen" DESTINATIONS ALL|ANY 'http://h:p' [, '...']
    DROP SUBSCRIPTION "s" ON "db"."autogen"
    SHOW SUBSCRIPTIONS

``ON db`` without a retention policy means ``autogen`` (flight-iox's only one). The
executor (``subscription_statements``) checks the caller and the destinations.
"""

from __future__ import annotations

from flight_iox.influxql import ast
from flight_iox.influxql.parser import Parser


def _on(parser: Parser) -> tuple[str, str | None]:
    parser.expect_keyword("ON")
    database = parser.ident()
    policy = parser.ident() if parser.accept_op(".") else None
    return database, policy


def parse_create_subscription(parser: Parser) -> ast.Statement:
    """After ``CREATE SUBSCRIPTION``: the name, ``ON db.rp``, ``DESTINATIONS``."""
    name = parser.ident()
    database, policy = _on(parser)
    parser.expect_keyword("DESTINATIONS")
    mode = parser.expect_keyword("ALL", "ANY")
    destinations = [parser.string()]
    while parser.accept_op(","):
        destinations.append(parser.string())
    return ast.SubscriptionStatement("create", name, database, policy, mode, tuple(destinations))


def parse_drop_subscription(parser: Parser) -> ast.Statement:
    """After ``DROP SUBSCRIPTION``: the name and ``ON db.rp``."""
    name = parser.ident()
    database, policy = _on(parser)
    return ast.SubscriptionStatement("drop", name, database, policy)


def parse_show_subscriptions(parser: Parser) -> ast.Statement:
    """After ``SHOW SUBSCRIPTIONS``: nothing more."""
    return ast.SubscriptionStatement("show")
