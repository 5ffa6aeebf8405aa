"""Bounds on one query: expression depth (checked before DataFusion sees the SQL) and the rest.

DataFusion parses, plans and evaluates expressions recursively. Its parser caps nested
parentheses, but not operator chains: ``SELECT 1+1+…+1`` with 2,000 terms costs seconds and
hundreds of MB to plan (the cost grows with the square of the length), and with 4,000 terms
the recursion overflows a thread's stack and the whole process dies with SIGSEGV. No error
can be caught at that point, so the depth is measured here, on tokens, before DataFusion
parses anything.

``expression_depth`` takes tokens, so it works over any tokenizer that yields sqlglot
``Token``s; ``check_expression_depth`` tokenizes with sqlglot, after a cheap linear upper
bound has shown the SQL could be deep at all (most queries are far below the limit and pay
one regex scan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, Tokenizer, TokenType

from flight_iox.errors import ExpressionTooDeepError


def _types(*names: str) -> frozenset[TokenType]:
    """Token types by name, skipping names this sqlglot release does not have."""
    return frozenset(getattr(TokenType, n) for n in names if hasattr(TokenType, n))


# Every token that adds a level to DataFusion's expression tree when chained.
_OPERATORS = _types(
    "PLUS", "DASH", "STAR", "SLASH", "MOD", "DIV", "DPIPE", "PIPE", "AMP", "CARET", "TILDA",
    "EQ", "NEQ", "NULLSAFE_EQ", "LT", "LTE", "GT", "GTE", "AND", "OR", "NOT", "XOR",
    "LIKE", "ILIKE", "RLIKE", "SIMILAR_TO", "GLOB", "IS", "IN", "BETWEEN", "DCOLON",
    "ARROW", "DARROW", "HASH_ARROW", "DHASH_ARROW", "LR_ARROW", "AT_GT", "LT_AT", "COLLATE",
    "LSHIFT", "RSHIFT", "EXCLAMATION",
)  # fmt: skip
_OPEN = _types("L_PAREN", "L_BRACKET", "L_BRACE")
_CLOSE = _types("R_PAREN", "R_BRACKET", "R_BRACE")
# Tokens that end an expression: a chain after one of them starts a new tree.
_SEPARATORS = _types(
    "COMMA", "SEMICOLON", "SELECT", "FROM", "WHERE", "GROUP_BY", "ORDER_BY", "HAVING",
    "LIMIT", "OFFSET", "ON", "JOIN", "UNION", "INTERSECT", "EXCEPT", "CASE", "WHEN", "THEN",
    "ELSE", "END", "WITH", "USING", "QUALIFY", "WINDOW", "PARTITION_BY",
)  # fmt: skip

# A linear upper bound on the tokens ``expression_depth`` counts: operator characters, opening
# brackets and operator words, wherever they are (in strings too, so it only over-counts).
_OPERATOR_LIKE = re.compile(
    r"[-+*/%<>=|&^!~:(\[{]|\b(?:and|or|not|xor|like|ilike|rlike|similar|glob|is|in|between"
    r"|collate|div)\b",
    re.IGNORECASE,
)


def expression_depth(tokens: Iterable[Token]) -> int:
    """The deepest expression in ``tokens``: chained operators plus enclosing brackets.

    An over-estimate by design (``a + (b + c)`` counts 3): it only has to bound the
    recursion DataFusion will need, in one pass over the tokens.
    """
    chain = [0]  # operators chained so far at each bracket level
    total = 0  # sum(chain)
    deepest = 0
    for token in tokens:
        kind = token.token_type
        if kind in _OPERATORS:
            chain[-1] += 1
            total += 1
            deepest = max(deepest, total + len(chain) - 1)
        elif kind in _OPEN:
            chain.append(0)
            deepest = max(deepest, total + len(chain) - 1)
        elif kind in _CLOSE:
            if len(chain) > 1:
                total -= chain.pop()
        elif kind in _SEPARATORS:
            total -= chain[-1]
            chain[-1] = 0
    return deepest


def check_expression_depth(sql: str, limit: int, source: str = "--max-expression-depth") -> None:
    """Raise ``ExpressionTooDeepError`` if ``sql`` holds an expression deeper than ``limit``.

    ``source`` names the limit in the message. InfluxQL text tokenizes close enough to SQL
    (a regex's slashes count as operators, an over-estimate) to be checked the same way.
    """
    if limit <= 0 or len(_OPERATOR_LIKE.findall(sql)) <= limit:
        return
    try:
        depth = expression_depth(Tokenizer().tokenize(sql))
    except TokenError:  # DataFusion would refuse it too; the bound above is the honest answer
        depth = len(_OPERATOR_LIKE.findall(sql))
    if depth > limit:
        raise ExpressionTooDeepError(depth, limit, source)
