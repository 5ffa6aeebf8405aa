"""Transformations over each series in time order (difference, derivative, ...), in numpy.

Each transform reads the non-null points of one column, series by series, and
writes its outputs back at the rows of the points they belong to; other rows
get null. A registry maps the InfluxQL name to its implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import unwrap
from flight_iox.influxql.series import position_in_series
from flight_iox.influxql.technical import INDICATORS, indicator

SECOND = 1_000_000_000


@dataclass(frozen=True)
class Points:
    """The non-null points of a column: row index, series id, time and value."""

    rows: np.ndarray
    ids: np.ndarray
    times: np.ndarray
    values: np.ndarray

    def pairs(self) -> np.ndarray:
        """Indices k (into the points) whose previous point is in the same series."""
        return np.flatnonzero(self.ids[1:] == self.ids[:-1]) + 1


Output = tuple[np.ndarray, np.ndarray, bool]
Transform = Callable[[Points, list[int]], Output]


def _difference(points: Points, _: list[int]) -> Output:
    k = points.pairs()
    return k, points.values[k] - points.values[k - 1], True


def _non_negative_difference(points: Points, args: list[int]) -> Output:
    k, diff, keep = _difference(points, args)
    return k[diff >= 0], diff[diff >= 0], keep


def _derivative(points: Points, args: list[int]) -> Output:
    unit = args[0] if args else SECOND
    k = points.pairs()
    dt = (points.times[k] - points.times[k - 1]).astype(np.float64)
    k, dt = k[dt > 0], dt[dt > 0]
    diff = points.values[k].astype(np.float64) - points.values[k - 1].astype(np.float64)
    return k, diff / (dt / unit), False


def _non_negative_derivative(points: Points, args: list[int]) -> Output:
    k, rate, keep = _derivative(points, args)
    return k[rate >= 0], rate[rate >= 0], keep


def _elapsed(points: Points, args: list[int]) -> Output:
    unit = args[0] if args else 1
    k = points.pairs()
    return k, (points.times[k] - points.times[k - 1]) // unit, False


def _cumulative_sum(points: Points, _: list[int]) -> Output:
    # One cumsum per series (not one global cumsum minus offsets, which loses precision).
    starts = np.flatnonzero(np.r_[True, points.ids[1:] != points.ids[:-1]])
    ends = np.r_[starts[1:], points.ids.size]
    total = np.empty_like(points.values)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        np.cumsum(points.values[start:end], out=total[start:end])
    return np.arange(points.ids.size), total, True


def _moving_average(points: Points, args: list[int]) -> Output:
    if not args or args[0] < 1:
        raise QueryError("moving_average window must be greater than 1, got 0")
    n = args[0]
    values = points.values.astype(np.float64)
    k = np.arange(n - 1, values.size)
    k = k[points.ids[k] == points.ids[k - n + 1]] if k.size else k
    if not k.size:
        return k, np.zeros(0), False
    # Each window summed on its own (not as a difference of running sums), as IOx does.
    windows = np.lib.stride_tricks.sliding_window_view(values, n)
    return k, windows[k - n + 1].sum(axis=1) / n, False


TRANSFORMS: dict[str, Transform] = {
    "difference": _difference,
    "non_negative_difference": _non_negative_difference,
    "derivative": _derivative,
    "non_negative_derivative": _non_negative_derivative,
    "elapsed": _elapsed,
    "cumulative_sum": _cumulative_sum,
    "moving_average": _moving_average,
}


def transform_args(call: ast.Call, default_unit: int | None = None) -> list[int]:
    """The duration/number arguments of a transform (a derivative's unit defaults to
    ``default_unit``: the GROUP BY interval when it differentiates an aggregate)."""
    args = []
    for arg in call.args[1:]:
        arg = unwrap(arg)
        if isinstance(arg, ast.DurationLit):
            args.append(arg.nanos)
        elif isinstance(arg, ast.NumberLit):
            args.append(int(arg.value))
        else:
            raise QueryError(f"invalid argument to {call.name}()")
    if not args and default_unit and call.name.endswith("derivative"):
        args.append(default_unit)
    return args


def apply_transform(
    call: ast.Call,
    column: pa.Array,
    ids: np.ndarray,
    times: np.ndarray,
    default_unit: int | None = None,
    descending: bool = False,
) -> pa.Array:
    """The transform of ``column`` (rows sorted by series, then time), aligned to its rows.

    ``descending``: the query returns each series newest first, and the indicators of
    technical.py read the points in that order (as 1.x does); the others read time order.
    """
    name = call.name
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(valid)
    if pa.types.is_boolean(column.type) or pa.types.is_string(column.type):
        if name != "elapsed":
            raise QueryError(f"unsupported {name} argument type: {column.type}")
        data = np.zeros(rows.size)
    else:
        data = column.drop_null().to_numpy(zero_copy_only=False)
    if name in INDICATORS:
        order = np.arange(rows.size)
        if descending:  # each series' points newest first
            order = np.lexsort((-order, ids[rows]))
        k, out = indicator(call, data[order], position_in_series(ids[rows][order]))
        return _aligned(valid.size, rows[order[k]], out, pa.float64())
    points = Points(rows, ids[rows], times[rows], data)
    k, out, keeps_type = TRANSFORMS[name](points, transform_args(call, default_unit))
    result_type = column.type if keeps_type else pa.float64()
    if name == "elapsed":
        result_type = pa.int64()
    return _aligned(valid.size, points.rows[k], out, result_type)


def _aligned(size: int, at: np.ndarray, values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """``values`` at rows ``at`` of a column of ``size`` rows, null elsewhere."""
    full = np.zeros(size, dtype=values.dtype if values.size else np.float64)
    mask = np.ones(size, dtype=bool)
    full[at] = values
    mask[at] = False
    return pa.array(full, mask=mask).cast(kind)
