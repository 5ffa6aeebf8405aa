"""InfluxDB 1.x's technical-analysis functions, per series, vectorised in numpy.

``exponential_moving_average``, ``double_exponential_moving_average``,
``triple_exponential_moving_average``, ``triple_exponential_derivative``,
``relative_strength_index``, ``chande_momentum_oscillator``,
``kaufmans_efficiency_ratio`` and ``kaufmans_adaptive_moving_average`` follow 1.x's
``query/internal/gota`` package: each point of a series (in the order the query returns
them) is fed to the indicator, and every point after the first ``hold_period`` ones
emits the indicator's value at that point's time.

The recurrences are not run point by point in Python:

- an EMA's warm-up (its first ``period`` points) has a closed form: the exponential
  warm-up is the running mean weighted ``1, 2, 3, ...`` and the simple one the running
  mean; both are cumulative sums over a (series x warm-up) matrix;
- after the warm-up, ``y[i] = a[i] * y[i-1] + b[i]`` is a prefix scan of affine maps
  (``_scan``): log2(longest series) numpy passes, each combining every point with the one
  ``d`` places back in its series. All coefficients are at most 1, so it is as stable as
  the sequential form; results agree with 1.x to a few units in the last place;
- the running sums of the Chande oscillator and of Kaufman's noise are ``np.cumsum`` over
  the very sequence of additions and subtractions 1.x makes (cumsum adds in order), so
  they match 1.x bit for bit, including the residue those running sums can keep. That
  cumsum runs once per series (a loop over series, not points).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.expressions import unwrap

EXPONENTIAL, SIMPLE, NONE = "exponential", "simple", "none"


@dataclass(frozen=True)
class Settings:
    """An indicator call's arguments: ``(field, period[, hold_period[, warmup_type]])``."""

    period: int
    hold: int  # -1: the indicator's own warm-up count
    warmup: str


@dataclass(frozen=True)
class Series:
    """The points of every series in computation order, and each point's place in its own."""

    values: np.ndarray
    pos: np.ndarray

    def bounds(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each series."""
        starts = np.flatnonzero(self.pos == 0)
        ends = np.append(starts[1:], self.pos.size)
        return list(zip(starts.tolist(), ends.tolist(), strict=True))


Compute = Callable[[Series, Settings], tuple[np.ndarray, int]]  # values, default hold


@dataclass(frozen=True)
class Indicator:
    """How one function reads its arguments and computes."""

    compute: Compute
    warmups: tuple[str, ...] = (EXPONENTIAL, SIMPLE)  # () when it takes no warmup_type
    default_warmup: str = EXPONENTIAL
    min_hold: int = 0
    drop_infinite: bool = False  # 1.x leaves out points whose value is +-Inf


# --- building blocks -----------------------------------------------------------------------


def _scan(a: float | np.ndarray, b: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``y[i] = a[i] * y[i-1] + b[i]`` within each series (``y = b`` where ``pos == 0``).

    A Hillis-Steele prefix scan: after the pass with distance ``d`` each point holds the
    composition of the last ``2d`` maps of its series; ``factor`` is the product of their
    ``a`` (a power of ``a`` when it is one number).
    """
    y = b.astype(np.float64, copy=True)
    constant = np.isscalar(a)
    factor: float | np.ndarray = a if constant else np.where(pos == 0, 0.0, a)
    d = 1
    longest = int(pos.max()) + 1 if pos.size else 0
    while d < longest:
        outside = pos[d:] < d  # the point d back is in another series
        step = factor if constant else factor[d:]  # type: ignore[index]
        carried = step * y[:-d]
        carried[outside] = 0.0
        if constant:
            factor = factor * factor  # type: ignore[operator]
        else:
            product = factor[d:] * factor[:-d]  # type: ignore[index]
            product[outside] = factor[d:][outside]  # type: ignore[index]
            factor[d:] = product  # type: ignore[index]
        y[d:] += carried
        d *= 2
    return y


def _warmup(series: Series, span: int, kind: str) -> np.ndarray:
    """The first ``span`` EMA values of each series (other points: NaN).

    Exponential warm-up: ``y[j] = y[j-1] + (x[j] - y[j-1]) * 2/(j+2)``, which is
    ``sum((k+1) * x[k]) * 2/((j+1)(j+2))``; simple warm-up: the running mean.
    """
    pos, x = series.pos, series.values
    out = np.full(x.size, np.nan)
    early = pos < span
    if not early.any():
        return out
    rows = np.cumsum(pos == 0)[early] - 1
    cols = pos[early]
    grid = np.zeros((int(rows.max()) + 1, int(cols.max()) + 1))
    j = np.arange(grid.shape[1], dtype=np.float64)
    if kind == SIMPLE:
        grid[rows, cols] = x[early]
        out[early] = (np.cumsum(grid, axis=1) / (j + 1))[rows, cols]
    else:
        grid[rows, cols] = x[early] * (cols + 1)
        out[early] = (np.cumsum(grid, axis=1) * (2 / ((j + 1) * (j + 2))))[rows, cols]
    return out


def _ema(series: Series, span: int, kind: str, alpha: float | None = None) -> np.ndarray:
    """1.x's EMA over each series: warm-up for ``span`` points, then constant ``alpha``."""
    alpha = 2 / (span + 1) if alpha is None else alpha
    y = _warmup(series, span, kind)
    later = series.pos >= span - 1  # from the last warm-up point on
    if series.pos.size and series.pos.max() >= span:
        pos = series.pos[later] - (span - 1)
        b = np.where(pos == 0, y[later], alpha * series.values[later])
        y[later] = _scan(1 - alpha, b, pos)
    return y


def _subset(series: Series, keep: np.ndarray, values: np.ndarray, first: int) -> Series:
    """The points of ``keep`` (each series' points from position ``first`` on)."""
    return Series(values[keep], series.pos[keep] - first)


def _cascade(series: Series, s: Settings, depth: int) -> list[np.ndarray]:
    """``depth`` EMAs, each fed the one before: ``[e1, a2, a3]`` as 1.x's DEMA/TEMA/TRIX.

    With the simple warm-up an EMA is only fed once the one before is warmed (until then
    it passes its input on); with the exponential one, from the first point.
    """
    p = s.period
    levels = [_ema(series, p, s.warmup)]
    start = 0
    for _ in range(depth - 1):
        previous = levels[-1]
        if s.warmup == SIMPLE:
            start += p - 1
        keep = series.pos >= start
        fed = _ema(_subset(series, keep, previous, start), p, s.warmup)
        level = previous.copy()
        level[keep] = fed
        levels.append(level)
    return levels


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IEEE division, as Go's (x/0 is +-Inf, 0/0 is NaN; callers silence the warnings)."""
    return a / b


def _previous(series: Series) -> np.ndarray:
    """Each point's predecessor in its series (0 before the first, as 1.x starts from 0)."""
    before = np.empty_like(series.values)
    before[0:1] = 0.0
    before[1:] = series.values[:-1]
    return np.where(series.pos == 0, 0.0, before)


def _running(terms: np.ndarray, bounds: list[tuple[int, int]], width: int) -> np.ndarray:
    """Per series, ``np.cumsum`` of ``terms`` laid out ``width`` per point, row-major."""
    total = np.empty_like(terms)
    for start, end in bounds:
        np.cumsum(terms[start * width : end * width], out=total[start * width : end * width])
    return total


def _lagged(values: np.ndarray, pos: np.ndarray, lag: int) -> np.ndarray:
    """``values[i - lag]`` (``lag >= 1``) within each series, 0 where there is no such point."""
    out = np.zeros_like(values)
    if lag < values.size:
        out[lag:] = np.where(pos[lag:] >= lag, values[:-lag], 0.0)
    return out


# --- the indicators ------------------------------------------------------------------------


def _exponential(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    return _ema(series, s.period, s.warmup), s.period - 1


def _double(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    e1, a2 = _cascade(series, s, 2)
    hold = (s.period - 1) * (2 if s.warmup == SIMPLE else 1)
    return 2 * e1 - a2, hold


def _triple(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    e1, a2, a3 = _cascade(series, s, 3)
    hold = (s.period - 1) * (3 if s.warmup == SIMPLE else 1)
    return 3 * e1 - 3 * a2 + a3, hold


def _trix(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    current = _cascade(series, s, 3)[-1]
    last = _previous(Series(current, series.pos))
    hold = 3 * (s.period - 1) + 1 if s.warmup == SIMPLE else s.period
    return (_divide(current, last) - 1) * 100, hold


def _gains(series: Series, s: Settings) -> tuple[np.ndarray, np.ndarray]:
    """1.x's RSI inputs: EMAs (``period + 1`` warm-up, alpha ``1/period``) of rises and falls."""
    change = series.values - _previous(series)
    up = Series(np.where(change > 0, change, 0.0), series.pos)
    down = Series(np.where(change < 0, -change, 0.0), series.pos)
    span, alpha = s.period + 1, 1 / s.period
    return _ema(up, span, s.warmup, alpha), _ema(down, span, s.warmup, alpha)


def _rsi(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    up, down = _gains(series, s)
    return 100 - _divide(np.full(up.size, 100.0), 1 + _divide(up, down)), s.period


def _chande(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    if s.warmup != NONE:  # 1.x's smoothed variant (CMOS)
        up, down = _gains(series, s)
        return 100 * _divide(up - down, up + down), s.period
    if s.period < 2:
        raise QueryError(
            "chande_momentum_oscillator period must be greater than 1 without a warmup type"
        )
    # 1.x keeps running sums of the last period-1 changes: each point adds its change, then
    # the value is read, then the change period-1 points back is taken out.
    change = np.where(series.pos == 0, 0.0, series.values - _previous(series))
    window = s.period - 1
    sums = []
    for part in (np.where(change > 0, change, 0.0), np.where(change < 0, -change, 0.0)):
        terms = np.column_stack([part, -_lagged(part, series.pos, window)]).ravel()
        sums.append(_running(terms, series.bounds(), 2)[0::2])
    up, down = sums
    value = np.where((up != 0) | (down != 0), 100 * _divide(up - down, up + down), 0.0)
    return value, window


def _efficiency(series: Series, s: Settings) -> np.ndarray:
    """Kaufman's efficiency ratio: |change over period| / sum of |changes| over it.

    1.x's noise is a running sum that takes out the change ``period`` points back, then
    adds the new one (changes before the series start are 0, the first is |x0|).
    """
    change = np.abs(series.values - _previous(series))
    terms = np.column_stack([-_lagged(change, series.pos, s.period), change]).ravel()
    noise = _running(terms, series.bounds(), 2)[1::2]
    signal = np.abs(series.values - _lagged(series.values, series.pos, s.period))
    return np.where((signal == 0) | (noise == 0), 0.0, _divide(signal, noise))


def _kaufmans_ratio(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    return _efficiency(series, s), s.period


def _kaufmans_average(series: Series, s: Settings) -> tuple[np.ndarray, int]:
    """KAMA: ``y = y' + sc * (x - y')``, where ``y'`` is the previous point's value until
    the ratio is warmed (``period + 1`` points) and the previous KAMA after."""
    fast, slow = 2.0 / (2.0 + 1.0), 2.0 / (30.0 + 1.0)
    sc = (_efficiency(series, s) * (fast - slow) + slow) ** 2
    x, pos, n = series.values, series.pos, s.period
    start = _previous(series)
    y = start + sc * (x - start)
    later = pos >= n
    if (pos > n).any():
        p = pos[later] - n
        b = np.where(p == 0, y[later], sc[later] * x[later])
        y[later] = _scan(1 - sc[later], b, p)
    return y, n


INDICATORS: dict[str, Indicator] = {
    "exponential_moving_average": Indicator(_exponential),
    "double_exponential_moving_average": Indicator(_double),
    "triple_exponential_moving_average": Indicator(_triple),
    "triple_exponential_derivative": Indicator(_trix, min_hold=1, drop_infinite=True),
    "relative_strength_index": Indicator(_rsi),
    "chande_momentum_oscillator": Indicator(
        _chande, warmups=(NONE, EXPONENTIAL, SIMPLE), default_warmup=NONE
    ),
    "kaufmans_efficiency_ratio": Indicator(_kaufmans_ratio, warmups=(), drop_infinite=True),
    "kaufmans_adaptive_moving_average": Indicator(
        _kaufmans_average, warmups=(), drop_infinite=True
    ),
}


def settings(call: ast.Call) -> Settings:
    """The arguments of an indicator call, checked with 1.x's messages."""
    name, args = call.name, call.args
    spec = INDICATORS[name]
    most = 4 if spec.warmups else 3
    if not 2 <= len(args) <= most:
        raise QueryError(
            f"invalid number of arguments for {name}, expected at least 2 but no more than "
            f"{most}, got {len(args)}"
        )
    period = _integer(args[1])
    if period is None:
        raise QueryError(f"{name} period must be an integer")
    if period < 1:
        raise QueryError(f"{name} period must be greater than or equal to 1")
    hold = -1
    if len(args) >= 3:
        given = _integer(args[2])
        if given is None:
            raise QueryError(f"{name} hold period must be an integer")
        if given < spec.min_hold and given != -1:
            raise QueryError(f"{name} hold period must be greater than or equal to {spec.min_hold}")
        hold = given
    warmup = spec.default_warmup
    if len(args) == 4:
        kind = unwrap(args[3])
        if not isinstance(kind, ast.StringLit):
            raise QueryError(f"{name} warmup type must be a string")
        if kind.value not in spec.warmups:
            allowed = " ".join(f"'{w}'" for w in spec.warmups)
            raise QueryError(f"{name} warmup type must be one of: {allowed}")
        warmup = kind.value
    return Settings(period, hold, warmup)


def check(call: ast.Call, time_grouped: bool) -> None:
    """1.x's compile-time checks: the arguments, and a field without ``GROUP BY time`` or
    an aggregate with it."""
    settings(call)
    inner = unwrap(call.args[0])
    if isinstance(inner, ast.Call) and not time_grouped:
        raise QueryError(f"{call.name} aggregate requires a GROUP BY interval")
    if not isinstance(inner, ast.Call) and time_grouped:
        raise QueryError(f"aggregate function required inside the call to {call.name}")


def _integer(expr: ast.Expr) -> int | None:
    expr = unwrap(expr)
    if isinstance(expr, ast.NumberLit) and expr.is_integer:
        return int(expr.value)
    return None


def indicator(call: ast.Call, values: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which points emit (indices) and their values, for points in computation order."""
    spec = INDICATORS[call.name]
    s = settings(call)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out, default_hold = spec.compute(Series(values.astype(np.float64), pos), s)
    hold = default_hold if s.hold == -1 else s.hold
    emit = pos >= hold
    if spec.drop_infinite:
        emit &= ~np.isinf(out)
    k = np.flatnonzero(emit)
    return k, out[k]
