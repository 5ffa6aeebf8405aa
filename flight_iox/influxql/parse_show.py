"""SHOW and EXPLAIN statements, and the registry of statement parsers (DDL: ``parse_ddl``)."""

from __future__ import annotations

from collections.abc import Callable

from flight_iox.influxql import ast
from flight_iox.influxql.lexer import IDENT, STRING
from flight_iox.influxql.parse_ddl import (
    parse_admin,
    parse_alter,
    parse_create,
    parse_delete,
    parse_drop,
    skip_rest,
)
from flight_iox.influxql.parse_subscriptions import parse_show_subscriptions
from flight_iox.influxql.parser import Parser

# SHOW forms about users, grants and the server itself -> their kind (admin tokens only).
_ADMIN_SHOWS = {
    "USERS": "show users",
    "GRANTS": "show grants",
    "SHARDS": "show shards",
    "SHARD": "show shard groups",
    "QUERIES": "show queries",
    "DIAGNOSTICS": "show diagnostics",
    "STATS": "show stats",
}


def _on(parser: Parser) -> str | None:
    return parser.ident() if parser.accept_keyword("ON") else None


def _from(parser: Parser) -> tuple[ast.Source, ...]:
    return tuple(parser.sources()) if parser.accept_keyword("FROM") else ()


def _where(parser: Parser) -> ast.Expr | None:
    return parser.expr() if parser.accept_keyword("WHERE") else None


def _limits(parser: Parser) -> tuple[int, int]:
    limits = {"LIMIT": 0, "OFFSET": 0}
    while (word := parser.accept_keyword(*limits)) is not None:
        limits[word] = parser.integer()
    return limits["LIMIT"], limits["OFFSET"]


def _with_key(parser: Parser) -> dict[str, object]:
    parser.expect_keyword("WITH")
    parser.expect_keyword("KEY")
    if parser.accept_keyword("IN"):
        parser.expect_op("(")
        keys = [parser.ident()]
        while parser.accept_op(","):
            keys.append(parser.ident())
        parser.expect_op(")")
        return {"key_op": "in", "key_values": tuple(keys)}
    op = parser.accept_op("=", "!=", "<>", "=~", "!~")
    if op is None:
        raise parser.error("=, !=, =~, !~ or IN")
    if op in ("=~", "!~"):
        regex = parser.scanner.regex()
        if regex is None:
            raise parser.error("regex")
        return {"key_op": op, "key_regex": regex}
    token = parser.scanner.next()
    if token.kind not in (IDENT, STRING):
        raise parser.error("identifier", token)
    return {"key_op": "!=" if op == "<>" else op, "key_values": (token.text,)}


def _with_measurement(parser: Parser) -> ast.Expr | None:
    if not parser.accept_keyword("WITH"):
        return None
    parser.expect_keyword("MEASUREMENT")
    op = parser.accept_op("=", "=~")
    if op is None:
        raise parser.error("= or =~")
    regex = parser.scanner.regex()
    if op == "=~":
        if regex is None:
            raise parser.error("regex")
        return ast.BinaryExpr(op, ast.VarRef("name"), ast.RegexLit(regex))
    if regex is not None:
        raise parser.error("measurement name")
    source = parser.measurement()
    if source.database is not None or source.retention_policy is not None:
        raise parser.scanner.error(
            "database name in WITH MEASUREMENT is not supported", parser.scanner.peek().pos
        )
    return ast.BinaryExpr(op, ast.VarRef("name"), ast.StringLit(source.name or ""))


def _cardinality(parser: Parser, kind: str) -> ast.ShowStatement:
    exact = parser.accept_keyword("EXACT") is not None
    parser.expect_keyword("CARDINALITY")
    database = _on(parser)
    sources = _from(parser)
    extra: dict[str, object] = {}
    if kind == "tag values" and parser.peek_keyword("WITH"):
        extra = _with_key(parser)
    condition = _where(parser)
    limit, offset = _limits(parser)
    return ast.ShowStatement(
        f"{kind} cardinality",
        database=database,
        sources=sources,
        condition=condition,
        limit=limit,
        offset=offset,
        exact=exact,
        **extra,  # type: ignore[arg-type]
    )


def _is_cardinality(parser: Parser) -> bool:
    return parser.peek_keyword("CARDINALITY", "EXACT")


def parse_show(parser: Parser) -> ast.Statement:
    """``SHOW ...``: every SHOW form InfluxDB 1.x has that flight-iox answers."""
    parser.expect_keyword("SHOW")
    word = parser.expect_keyword(
        "DATABASES", "MEASUREMENTS", "MEASUREMENT", "TAG", "FIELD", "SERIES", "RETENTION",
        "CONTINUOUS", "SUBSCRIPTIONS", *_ADMIN_SHOWS,
    )  # fmt: skip
    if word == "SUBSCRIPTIONS":
        return parse_show_subscriptions(parser)
    if word in _ADMIN_SHOWS:
        skip_rest(parser)
        return ast.AdminStatement(_ADMIN_SHOWS[word])
    if word == "DATABASES":
        return ast.ShowStatement("databases")
    if word == "CONTINUOUS":
        parser.expect_keyword("QUERIES")
        return ast.ShowStatement("continuous queries")
    if word == "RETENTION":
        parser.expect_keyword("POLICIES")
        return ast.ShowStatement("retention policies", database=_on(parser))
    if word == "MEASUREMENT":
        return _cardinality(parser, "measurement")
    if word == "MEASUREMENTS":
        database = _on(parser)
        measurement = _with_measurement(parser)
        condition = _where(parser)
        limit, offset = _limits(parser)
        return ast.ShowStatement(
            "measurements", database, (), condition, measurement, limit=limit, offset=offset
        )
    if word == "SERIES":
        if _is_cardinality(parser):
            return _cardinality(parser, "series")
        database, sources, condition = _on(parser), _from(parser), _where(parser)
        limit, offset = _limits(parser)
        return ast.ShowStatement("series", database, sources, condition, limit=limit, offset=offset)
    if word == "FIELD":
        parser.expect_keyword("KEYS", "KEY")
        if _is_cardinality(parser):
            return _cardinality(parser, "field key")
        database, sources = _on(parser), _from(parser)
        limit, offset = _limits(parser)
        return ast.ShowStatement("field keys", database, sources, limit=limit, offset=offset)
    sub = parser.expect_keyword("KEYS", "KEY", "VALUES")
    if sub in ("KEYS", "KEY"):
        if _is_cardinality(parser):
            return _cardinality(parser, "tag key")
        database, sources, condition = _on(parser), _from(parser), _where(parser)
        limit, offset = _limits(parser)
        return ast.ShowStatement(
            "tag keys", database, sources, condition, limit=limit, offset=offset
        )
    if _is_cardinality(parser):
        return _cardinality(parser, "tag values")
    database, sources = _on(parser), _from(parser)
    key = _with_key(parser)
    condition = _where(parser)
    limit, offset = _limits(parser)
    return ast.ShowStatement(
        "tag values",
        database,
        sources,
        condition,
        limit=limit,
        offset=offset,
        **key,  # type: ignore[arg-type]
    )


def parse_explain(parser: Parser) -> ast.Statement:
    """``EXPLAIN [ANALYZE] SELECT ...``."""
    parser.expect_keyword("EXPLAIN")
    analyze = parser.accept_keyword("ANALYZE") is not None
    return ast.ExplainStatement(parser.select(), analyze)


# First keyword of a statement -> its parser.
STATEMENT_PARSERS: dict[str, Callable[[Parser], ast.Statement]] = {
    "SELECT": Parser.select,
    "SHOW": parse_show,
    "CREATE": parse_create,
    "DROP": parse_drop,
    "ALTER": parse_alter,
    "DELETE": parse_delete,
    "GRANT": parse_admin,
    "REVOKE": parse_admin,
    "SET": parse_admin,
    "KILL": parse_admin,
    "EXPLAIN": parse_explain,
}
