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

Only calls outside string literals and quoted identifiers are rewritten; SQL without these
names is returned unchanged (one regex search).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.errors import QueryError
from flight_iox.influxql.series import decoded

Finish = Callable[[pa.Table], pa.Table]

_NAMES = ("selector_first", "selector_last", "selector_min", "selector_max")
_GAPFILL = "date_bin_gapfill"
_TRIGGER = re.compile(r"(?i)\b(selector_(first|last|min|max)|date_bin_gapfill)\s*\(")
_TOKEN = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*"
    r"|(?i:\b(?P<name>selector_first|selector_last|selector_min|selector_max|date_bin_gapfill"
    r"|locf|interpolate)\s*\()"
)


def rewrite_iox_sql(sql: str) -> tuple[str, Finish | None]:
    """``sql`` with IOx's functions rewritten, and the step to run over its result (or None)."""
    if _TRIGGER.search(sql) is None:
        return sql, None
    finish = None
    if re.search(r"(?i)\bdate_bin_gapfill\s*\(", _masked(sql)):
        sql, finish = _rewrite_gapfill(sql)
    return _rewrite_selectors(sql), finish


# --- scanning --------------------------------------------------------------------------------


def _masked(sql: str) -> str:
    """``sql`` with string literals, quoted identifiers and comments blanked (same length)."""
    return re.sub(
        r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*", lambda m: " " * len(m.group(0)), sql
    )


def _close_paren(masked: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(masked)):
        ch = masked[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise QueryError("unbalanced parentheses")


def _split_top(text: str, masked: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside parentheses, brackets and quotes."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(masked):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _calls(sql: str, names: tuple[str, ...]) -> tuple[int, int, int, str] | None:
    """The first call of one of ``names``: (start, open paren, close paren, name)."""
    masked = _masked(sql)
    pattern = re.compile(r"(?i)\b(" + "|".join(names) + r")\s*\(")
    match = pattern.search(masked)
    if match is None:
        return None
    open_at = match.end() - 1
    return match.start(), open_at, _close_paren(masked, open_at), match.group(1).lower()


# --- selectors ------------------------------------------------------------------------------


def _rewrite_selectors(sql: str) -> str:
    while (call := _calls(sql, _NAMES)) is not None:
        start, open_at, close_at, name = call
        inner = _rewrite_selectors(sql[open_at + 1 : close_at])
        args = _split_top(inner, _masked(inner))
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
_TIME_COL = r"(?:\w+\.)?\"?time\"?"
_LITERAL = r"(?:timestamp\s+)?'[^']*'(?:\s*::\s*timestamp)?"


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
        return _fill(self, table)


def _rewrite_gapfill(sql: str) -> tuple[str, Finish]:
    masked = _masked(sql)
    select = re.search(r"(?i)\bselect\b", masked)
    if select is None:
        raise QueryError("date_bin_gapfill must be used in a SELECT")
    depth, end = 0, None
    for m in re.finditer(r"(?i)[()]|\bfrom\b", masked[select.end() :]):
        token = m.group(0)
        depth += 1 if token == "(" else -1 if token == ")" else 0
        if depth == 0 and token.lower() == "from":
            end = select.end() + m.start()
            break
    if end is None:
        raise QueryError("date_bin_gapfill requires a FROM clause")
    items_text = sql[select.end() : end]
    items = _split_top(items_text, _masked(items_text))
    time_index, keys, fills, stride, origin = None, [], {}, None, 0
    new_items = []
    for i, item in enumerate(items):
        item_masked = _masked(item)
        if re.search(r"(?i)\bdate_bin_gapfill\s*\(", item_masked):
            start, open_at, close_at, _ = _calls(item, (_GAPFILL,))
            rest = item_masked[close_at + 1 :].strip()
            if start != 0 or (rest and not re.match(r"(?i)(as\b|\w+$|\"[^\"]*\"$)", rest)):
                raise QueryError("date_bin_gapfill must be a top-level expression in SELECT")
            args = _split_top(item[open_at + 1 : close_at], item_masked[open_at + 1 : close_at])
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
        fill = re.match(r"(?i)\s*(locf|interpolate)\s*\(", item_masked)
        if fill is not None:
            close_at = _close_paren(item_masked, fill.end() - 1)
            fills[i] = fill.group(1).lower()
            new_items.append(item[fill.end() : close_at] + item[close_at + 1 :])
            continue
        if "(" not in item_masked and "*" not in item_masked:
            keys.append(i)
        new_items.append(item)
    if stride is None or time_index is None:
        raise QueryError("date_bin_gapfill must be a top-level expression in SELECT")
    if re.search(r"(?i)\b(locf|interpolate)\s*\(", _masked(" ".join(new_items))):
        raise QueryError("locf and interpolate must wrap a whole SELECT expression")
    rest = sql[end:]
    first, last = _time_bounds(rest, stride, origin)
    rewritten = sql[: select.end()] + " " + ", ".join(new_items) + " " + rest
    return rewritten, _GapFill(stride, origin, first, last, time_index, keys, fills)


def _parse_interval(text: str) -> int:
    match = re.search(r"'([^']*)'", text)
    if match is None:
        raise QueryError(f"date_bin_gapfill: the stride must be an interval literal: {text}")
    total, parts = 0, re.findall(r"(\d+)\s*([a-z]+)", match.group(1).lower())
    for number, unit in parts:
        unit = unit.rstrip("s") if unit not in _UNITS else unit
        if unit not in _UNITS:
            raise QueryError(f"date_bin_gapfill: unsupported interval unit {unit!r}")
        total += int(number) * _UNITS[unit]
    if not parts or total <= 0:
        raise QueryError(f"date_bin_gapfill: invalid stride {match.group(1)!r}")
    return total


def _parse_timestamp(text: str) -> int:
    match = re.search(r"'([^']*)'", text)
    if match is None:
        raise QueryError(f"expected a timestamp literal: {text}")
    value = match.group(1).strip().replace(" ", "T")
    value = re.sub(r"(Z|[+-]00:?00)$", "", value)
    try:
        return int(np.datetime64(value, "ns").astype(np.int64))
    except ValueError:
        raise QueryError(f"invalid timestamp literal: {match.group(1)}") from None


def _time_bounds(rest: str, stride: int, origin: int) -> tuple[int, int]:
    """The first and last buckets of the grid, from the WHERE clause's time bounds."""
    masked = _masked(rest)
    where = re.search(r"(?i)\bwhere\b", masked)
    tail = re.search(r"(?i)\b(group\s+by|order\s+by|limit)\b", masked)
    clause = rest[where.end() : tail.start() if tail else len(rest)] if where else ""
    low = high = None
    between = re.search(rf"(?i){_TIME_COL}\s+between\s+({_LITERAL})\s+and\s+({_LITERAL})", clause)
    if between:
        low, high = _parse_timestamp(between.group(1)), _parse_timestamp(between.group(2))
    for op, literal in re.findall(rf"(?i){_TIME_COL}\s*(>=|<=|>|<)\s*({_LITERAL})", clause):
        value = _parse_timestamp(literal)
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


def _fill(plan: _GapFill, table: pa.Table) -> pa.Table:
    """Add the missing buckets of every group, then fill ``locf``/``interpolate`` columns."""
    grid = np.arange(plan.first, plan.last + 1, plan.stride, dtype=np.int64)
    n = len(grid)
    names = [f"c{i}" for i in range(table.num_columns)]
    data = table.rename_columns(names)
    for i in plan.keys:  # group and join on plain values, not dictionaries
        if pa.types.is_dictionary(table.schema.field(i).type):
            data = data.set_column(i, names[i], decoded(data[names[i]]))
    key_names = [names[i] for i in plan.keys]
    rows = np.arange(data.num_rows, dtype=np.int64)
    if key_names:
        distinct = data.select(key_names).group_by(key_names).aggregate([])
        distinct = distinct.sort_by([(k, "ascending") for k in key_names])
        distinct = distinct.append_column("__g", pa.array(np.arange(distinct.num_rows)))
        pairs = data.select(key_names).append_column("__row", pa.array(rows))
        joined = pairs.join(distinct, key_names, join_type="inner", use_threads=False)
        row_of = joined["__row"].to_numpy()
        group_of = joined["__g"].to_numpy()
        groups = distinct.num_rows
    else:
        row_of, group_of, groups = rows, np.zeros(len(rows), dtype=np.int64), 1
    times = data.column(plan.time_index).cast(pa.int64()).to_numpy(zero_copy_only=False)[row_of]
    bucket = (times - plan.first) // plan.stride
    inside = (bucket >= 0) & (bucket < n) & (times == plan.first + bucket * plan.stride)
    slot = np.full(groups * n, -1, dtype=np.int64)
    slot[group_of[inside] * n + bucket[inside]] = row_of[inside]
    missing = slot < 0
    take = pa.array(slot, mask=missing)
    group_start = np.repeat(np.arange(groups, dtype=np.int64) * n, n)
    columns = []
    for i, name in enumerate(names):
        if i == plan.time_index:
            columns.append(pa.array(np.tile(grid, groups)).cast(table.schema.field(i).type))
        elif i in plan.keys:
            keys = distinct[name].combine_chunks()
            keys = keys.take(pa.array(np.repeat(np.arange(groups), n)))
            columns.append(keys.cast(table.schema.field(i).type))
        else:
            column = data[name].combine_chunks().take(take)
            kind = plan.fills.get(i)
            if kind == "locf":
                column = _locf(column, group_start)
            elif kind == "interpolate":
                column = _interpolate(column, group_start, n, np.tile(grid, groups))
            columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _previous_valid(valid: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    index = np.where(valid, np.arange(len(valid)), -1)
    previous = np.maximum.accumulate(index) if len(index) else index
    previous[previous < group_start] = -1
    return previous


def _locf(column: pa.Array, group_start: np.ndarray) -> pa.Array:
    previous = _previous_valid(column.is_valid().to_numpy(zero_copy_only=False), group_start)
    return column.take(pa.array(previous, mask=previous < 0))


def _interpolate(column: pa.Array, group_start: np.ndarray, n: int, times: np.ndarray) -> pa.Array:
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        return column
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    size = len(valid)
    previous = _previous_valid(valid, group_start)
    index = np.where(valid, np.arange(size), size)
    following = np.minimum.accumulate(index[::-1])[::-1] if size else index
    following[following >= group_start + n] = size
    values = pc.cast(column, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    gap = ~valid & (previous >= 0) & (following < size)
    p, f = previous[gap], following[gap]
    out = values.copy()
    slope = (values[f] - values[p]) / (times[f] - times[p])  # as IOx: y0 + slope * (x - x0)
    out[gap] = values[p] + slope * (times[gap] - times[p])
    filled = pa.array(out, mask=~(valid | gap))
    if pa.types.is_integer(column.type):
        filled = pc.cast(pc.trunc(filled), column.type)
    return filled
