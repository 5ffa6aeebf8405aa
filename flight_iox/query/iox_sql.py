"""IOx's SQL functions that DataFusion lacks: ``selector_*`` and ``date_bin_gapfill``.

datafusion-python 55 builds Python UDFs and UDAFs with an exact signature (one list of input
types and one return type per name), so a function that takes any value type and returns a
struct of that type (``selector_first(value, time, ...)``) cannot be one Python UDAF, and gap
filling is a planner rewrite in IOx, not a function. Both are done here as a rewrite of the SQL
text before DataFusion plans it, to DataFusion's own (native, vectorised) functions:

- ``selector_first/last/min/max(value, time[, other...])`` becomes a ``named_struct`` of
  ``{value, time, other_1, ...}`` built from ``first_value``/``last_value``/``min``/``max`` with
  ``ORDER BY`` and ``FILTER (WHERE value IS NOT NULL)``, the row IOx's selector picks.
- ``date_bin_gapfill(stride, time[, origin])`` becomes ``date_bin``; ``locf(x)`` and
  ``interpolate(x)`` become ``x``. A step over the Arrow result then adds the missing buckets
  between the WHERE clause's time bounds for every group (nulls), and carries the last value
  forward (``locf``) or interpolates linearly (``interpolate``) in those columns, all with
  Arrow/numpy array operations.

Calls are found in the statement's tokens (``flight_iox/sql_tokens.py``), so a name inside a string
literal, a quoted identifier or a comment is never rewritten; SQL without these names is
returned unchanged, and the result is cached per statement text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flight_iox.errors import QueryError
from flight_iox.query.gap_buckets import fill_buckets
from flight_iox.sql_tokens import Token, TokenType, per_statement, tokenize

Finish = Callable[[pa.Table], pa.Table]

_NAMES = ("selector_first", "selector_last", "selector_min", "selector_max")
_GAPFILL = "date_bin_gapfill"
_FILLS = ("locf", "interpolate")


def rewrite_iox_sql(sql: str) -> tuple[str, Finish | None]:
    """``sql`` with IOx's functions rewritten, and the step to run over its result (or None)."""
    lowered = sql.lower()
    if "selector_" not in lowered and _GAPFILL not in lowered:  # most SQL: not even tokenized
        return sql, None
    return _rewrite(sql)


@per_statement()
def _rewrite(sql: str) -> tuple[str, Finish | None]:
    if _calls(sql, (*_NAMES, _GAPFILL)) is None:
        return sql, None
    finish = None
    if _calls(sql, (_GAPFILL,)) is not None:
        sql, finish = _rewrite_gapfill(sql)
    return _rewrite_selectors(sql), finish


# --- scanning --------------------------------------------------------------------------------


def _close_paren(tokens: Sequence[Token], open_index: int) -> int:
    """The index of the ``)`` closing the ``(`` at ``tokens[open_index]``."""
    depth = 0
    for index in range(open_index, len(tokens)):
        kind = tokens[index].type
        if kind is TokenType.L_PAREN:
            depth += 1
        elif kind is TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return index
    raise QueryError("unbalanced parentheses")


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside parentheses and brackets (strings stay whole)."""
    parts, depth, start = [], 0, 0
    for token in tokenize(text):
        if token.type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif token.type is TokenType.COMMA and depth == 0:
            parts.append(text[start : token.start])
            start = token.end
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _calls(sql: str, names: tuple[str, ...]) -> tuple[int, int, int, str] | None:
    """The first call of one of ``names``: (start, open paren, close paren, name) offsets."""
    tokens = tokenize(sql)
    for index in range(len(tokens) - 1):
        if tokens[index].word in names and tokens[index + 1].type is TokenType.L_PAREN:
            close = tokens[_close_paren(tokens, index + 1)]
            return tokens[index].start, tokens[index + 1].start, close.start, tokens[index].word
    return None


# --- selectors ------------------------------------------------------------------------------


def _rewrite_selectors(sql: str) -> str:
    while (call := _calls(sql, _NAMES)) is not None:
        start, open_at, close_at, name = call
        inner = _rewrite_selectors(sql[open_at + 1 : close_at])
        args = _split_top(inner)
        if len(args) < 2 or not all(args):
            raise QueryError(f"{name} requires at least 2 arguments: a value and a time")
        sql = sql[:start] + _selector_sql(name, args) + sql[close_at + 1 :]
    return sql


def _selector_sql(name: str, args: list[str]) -> str:
    value, time, others = f"({args[0]})", f"({args[1]})", args[2:]
    keep = f"FILTER (WHERE {value} IS NOT NULL)"
    kind = name.removeprefix("selector_")
    if kind == "first":
        order, picked_value, picked_time = f"{time} ASC", None, f"min({time}) {keep}"
    elif kind == "last":
        order, picked_value, picked_time = f"{time} DESC", None, f"max({time}) {keep}"
    else:
        direction = "ASC" if kind == "min" else "DESC"
        order = f"{value} {direction}, {time} ASC"
        picked_value = f"{kind}({value})"
        picked_time = f"first_value({time} ORDER BY {order}) {keep}"
    if picked_value is None:
        picked_value = f"first_value({value} ORDER BY {order}) {keep}"
    fields = [f"'value', {picked_value}", f"'time', {picked_time}"]
    for i, other in enumerate(others, start=1):
        fields.append(f"'other_{i}', first_value(({other}) ORDER BY {order}) {keep}")
    return "named_struct(" + ", ".join(fields) + ")"


# --- gap filling ----------------------------------------------------------------------------

_UNITS = {
    "nanosecond": 1,
    "microsecond": 1_000,
    "millisecond": 1_000_000,
    "second": 1_000_000_000,
    "minute": 60_000_000_000,
    "hour": 3_600_000_000_000,
    "day": 86_400_000_000_000,
    "week": 7 * 86_400_000_000_000,
}
_BOUNDS = {TokenType.GTE: ">=", TokenType.GT: ">", TokenType.LTE: "<=", TokenType.LT: "<"}


@dataclass
class _GapFill:
    stride: int
    origin: int
    first: int
    last: int
    time_index: int
    keys: list[int]
    fills: dict[int, str]  # column index -> "locf" | "interpolate"

    def __call__(self, table: pa.Table) -> pa.Table:
        return fill_buckets(
            table, self.first, self.last, self.stride, self.time_index, self.keys, self.fills
        )


def _rewrite_gapfill(sql: str) -> tuple[str, Finish]:
    tokens = tokenize(sql)
    select = next((i for i, t in enumerate(tokens) if t.word == "select"), None)
    if select is None:
        raise QueryError("date_bin_gapfill must be used in a SELECT")
    depth, end = 0, None
    for token in tokens[select + 1 :]:
        depth += (token.type is TokenType.L_PAREN) - (token.type is TokenType.R_PAREN)
        if depth == 0 and token.word == "from":
            end = token.start
            break
    if end is None:
        raise QueryError("date_bin_gapfill requires a FROM clause")
    select_end = tokens[select].end
    items = _split_top(sql[select_end:end])
    time_index, keys, fills, stride, origin = None, [], {}, None, 0
    new_items = []
    for i, item in enumerate(items):
        item_tokens = tokenize(item)
        call = _calls(item, (_GAPFILL,))
        if call is not None:
            start, open_at, close_at, _ = call
            after = [t for t in item_tokens if t.start > close_at]
            alias = not after or after[0].word == "as" or (len(after) == 1 and after[0].name)
            if start != 0 or not alias:
                raise QueryError("date_bin_gapfill must be a top-level expression in SELECT")
            args = _split_top(item[open_at + 1 : close_at])
            if len(args) not in (2, 3):
                raise QueryError("date_bin_gapfill requires 2 or 3 arguments")
            stride = _parse_interval(args[0])
            if len(args) == 3:
                origin = _parse_timestamp(args[2])
            time_index = i
            new_items.append(
                "date_bin(" + item[open_at + 1 : close_at] + ")" + item[close_at + 1 :]
            )
            continue
        if (
            len(item_tokens) > 1
            and item_tokens[0].word in _FILLS
            and item_tokens[1].type is TokenType.L_PAREN
        ):
            close = item_tokens[_close_paren(item_tokens, 1)]
            fills[i] = item_tokens[0].word
            new_items.append(item[item_tokens[1].end : close.start] + item[close.end :])
            continue
        if not any(t.type in (TokenType.L_PAREN, TokenType.STAR) for t in item_tokens):
            keys.append(i)
        new_items.append(item)
    if stride is None or time_index is None:
        raise QueryError("date_bin_gapfill must be a top-level expression in SELECT")
    if _calls(" ".join(new_items), _FILLS) is not None:
        raise QueryError("locf and interpolate must wrap a whole SELECT expression")
    rest = sql[end:]
    first, last = _time_bounds(rest, stride, origin)
    rewritten = sql[:select_end] + " " + ", ".join(new_items) + " " + rest
    return rewritten, _GapFill(stride, origin, first, last, time_index, keys, fills)


def _literal(text: str) -> str | None:
    """The value of the first string literal in ``text``."""
    return next((t.value for t in tokenize(text) if t.literal), None)


def _parse_interval(text: str) -> int:
    value = _literal(text)
    if value is None:
        raise QueryError(f"date_bin_gapfill: the stride must be an interval literal: {text}")
    # A regex over one literal's value (``'2 minutes'``), not over SQL text.
    total, parts = 0, re.findall(r"(\d+)\s*([a-z]+)", value.lower())
    for number, unit in parts:
        unit = unit.rstrip("s") if unit not in _UNITS else unit
        if unit not in _UNITS:
            raise QueryError(f"date_bin_gapfill: unsupported interval unit {unit!r}")
        total += int(number) * _UNITS[unit]
    if not parts or total <= 0:
        raise QueryError(f"date_bin_gapfill: invalid stride {value!r}")
    return total


def _parse_timestamp(text: str) -> int:
    literal = _literal(text)
    if literal is None:
        raise QueryError(f"expected a timestamp literal: {text}")
    return _timestamp_value(literal)


def _timestamp_value(literal: str) -> int:
    value = literal.strip().replace(" ", "T")
    value = re.sub(r"(Z|[+-]00:?00)$", "", value)  # one literal's value, not SQL text
    try:
        return int(np.datetime64(value, "ns").astype(np.int64))
    except ValueError:
        raise QueryError(f"invalid timestamp literal: {literal}") from None


def _timestamp_at(tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
    """``[TIMESTAMP] '...' [::TIMESTAMP]`` at ``tokens[index]``: its value and the next index."""
    if index < len(tokens) and tokens[index].word == "timestamp":
        index += 1
    if index >= len(tokens) or tokens[index].type is not TokenType.STRING:
        return None
    value, index = _timestamp_value(tokens[index].value), index + 1
    if (
        index + 1 < len(tokens)
        and tokens[index].type is TokenType.DCOLON
        and tokens[index + 1].word == "timestamp"
    ):
        index += 2
    return value, index


def _next_is_by(words: list[str], index: int) -> bool:
    return words[index + 1 : index + 2] == ["by"]


def _time_bounds(rest: str, stride: int, origin: int) -> tuple[int, int]:
    """The first and last buckets of the grid, from the WHERE clause's time bounds."""
    tokens = tokenize(rest)
    words = [t.word for t in tokens]
    clause: Sequence[Token] = ()
    if "where" in words:
        start = end = words.index("where") + 1
        while end < len(tokens) and not (
            words[end] == "limit" or (words[end] in ("group", "order") and _next_is_by(words, end))
        ):
            end += 1
        clause = tokens[start:end]
    low = high = None
    for i, token in enumerate(clause):  # time BETWEEN a AND b
        if token.name == "time" and i + 1 < len(clause) and clause[i + 1].word == "between":
            first = _timestamp_at(clause, i + 2)
            if first is not None and first[1] < len(clause) and clause[first[1]].word == "and":
                second = _timestamp_at(clause, first[1] + 1)
                if second is not None:
                    low, high = first[0], second[0]
                    break
    for i, token in enumerate(clause):  # time >= a, time < b, ...
        op = _BOUNDS.get(clause[i + 1].type) if i + 1 < len(clause) else None
        bound = _timestamp_at(clause, i + 2) if token.name == "time" and op else None
        if bound is None:
            continue
        value = bound[0]
        if op == ">=":
            low = value
        elif op == ">":
            low = value + 1
        elif op == "<=":
            high = value
        else:
            high = value - 1
    if low is None and high is None:
        raise QueryError("gap-filling query is missing both upper and lower time bounds")
    if low is None:
        raise QueryError("gap-filling query is missing lower time bound")
    if high is None:
        raise QueryError("gap-filling query is missing upper time bound")
    return _bin(low, stride, origin), _bin(high, stride, origin)


def _bin(t: int, stride: int, origin: int) -> int:
    return t - (t - origin) % stride
