"""Technical-analysis functions against answers taken from InfluxDB 1.6 (influxd) itself.

The expected values below are what influxd 1.6.7 returned for the same data and queries
(``epoch=s``); tests/e2e/test_influxql_differential.py runs more of them live.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.influxql import ast
from flight_iox.influxql.formats import v1_json
from flight_iox.influxql.technical import _scan, indicator

S = 1_000_000_000
GAP = [(0, 1), (1, 3), (2, 2), (6, 8), (7, 4), (8, 9), (12, 1), (13, 7), (14, 3), (15, 5)]
DATA = "\n".join(
    [f"k,s=ramp v={t},i={t}i {t * S}" for t in range(8)]
    + [f"k,s=gap v={v} {t * S}" for t, v in GAP]
    + [f"k,s=neg v={v} {t * S}" for t, v in enumerate([-3, -1, -4, -1, -5, -9, -2, -6])]
    + [f"k,s=zero v={v} {t * S}" for t, v in enumerate([0, 0, 1, 0, 0, 0, 0])]
)
BUCKETS = "s = 'gap' AND time >= 0s AND time < 20s GROUP BY time(2s)"
LATER = BUCKETS.replace("time >= 0s", "time >= 4s")
CASES = [
    (
        "SELECT exponential_moving_average(v, 2) FROM k WHERE s = 'neg'",
        [
            [1, -1.6666666666666667],
            [2, -3.2222222222222223],
            [3, -1.740740740740741],
            [4, -3.9135802469135803],
            [5, -7.304526748971194],
            [6, -3.768175582990398],
            [7, -5.256058527663466],
        ],
    ),
    (
        "SELECT exponential_moving_average(i, 2, 0) FROM k WHERE s = 'ramp'",
        [
            [0, 0],
            [1, 0.6666666666666666],
            [2, 1.5555555555555556],
            [3, 2.5185185185185186],
            [4, 3.506172839506173],
            [5, 4.502057613168724],
            [6, 5.500685871056241],
            [7, 6.500228623685413],
        ],
    ),
    (
        "SELECT exponential_moving_average(v, 3, 1, 'simple') FROM k WHERE s = 'gap'",
        [
            [1, 2],
            [2, 2],
            [6, 5],
            [7, 4.5],
            [8, 6.75],
            [12, 3.875],
            [13, 5.4375],
            [14, 4.21875],
            [15, 4.609375],
        ],
    ),
    (
        "SELECT double_exponential_moving_average(v, 3, 1, 'simple') FROM k WHERE s = 'gap'",
        [
            [1, 2],
            [2, 2],
            [6, 6.5],
            [7, 5.166666666666666],
            [8, 8.208333333333332],
            [12, 3.166666666666666],
            [13, 5.864583333333333],
            [14, 3.822916666666666],
            [15, 4.606770833333333],
        ],
    ),
    (
        "SELECT triple_exponential_moving_average(v, 3, 0, 'simple') FROM k WHERE s = 'gap'",
        [
            [0, 1],
            [1, 2],
            [2, 2],
            [6, 8],
            [7, 5.833333333333334],
            [8, 8.9375],
            [12, 2.444444444444443],
            [13, 6.071180555555555],
            [14, 3.514756944444443],
            [15, 4.649305555555555],
        ],
    ),
    (
        "SELECT triple_exponential_moving_average(v, 2) FROM k WHERE s = 'neg'",
        [
            [1, -1.0740740740740735],
            [2, -3.8148148148148144],
            [3, -1.1975308641975309],
            [4, -4.780521262002742],
            [5, -8.967078189300414],
            [6, -2.4549611339734785],
            [7, -5.6429914139104795],
        ],
    ),
    (
        "SELECT triple_exponential_derivative(v, 2) FROM k WHERE s = 'neg'",
        [
            [2, 12.307692307692308],
            [3, -14.61187214611871],
            [4, 28.9958407605466],
            [5, 67.06586826347308],
            [6, -6.322948258432115],
            [7, 4.9271286394802605],
        ],
    ),
    (
        "SELECT triple_exponential_derivative(v, 3, 1, 'simple') FROM k WHERE s = 'gap'",
        [
            [1, 100],
            [2, 0],
            [6, 75],
            [7, 9.523809523809534],
            [8, 19.021739130434767],
            [12, 0.15220700152207556],
            [13, 4.825227963525824],
            [14, -1.8303733236679887],
            [15, -0.9599409267122105],
        ],
    ),
    (
        "SELECT relative_strength_index(v, 2) FROM k WHERE s = 'zero'",
        [
            [2, 100],
            [3, 33.33333333333333],
            [4, 33.33333333333333],
            [5, 33.33333333333333],
            [6, 33.33333333333333],
        ],
    ),
    (
        "SELECT relative_strength_index(i, 2, 0) FROM k WHERE s = 'ramp'",
        [[0, None], [1, 100], [2, 100], [3, 100], [4, 100], [5, 100], [6, 100], [7, 100]],
    ),
    (
        "SELECT relative_strength_index(v, 3, 0, 'simple') FROM k WHERE s = 'gap'",
        [
            [0, 100],
            [1, 100],
            [2, 75],
            [6, 90],
            [7, 50],
            [8, 72.72727272727272],
            [12, 34.78260869565217],
            [13, 58.9041095890411],
            [14, 43.00000000000001],
            [15, 52.5987525987526],
        ],
    ),
    (
        "SELECT chande_momentum_oscillator(v, 2) FROM k WHERE s = 'neg'",
        [
            [1, 100],
            [2, -20],
            [3, 0],
            [4, -14.285714285714285],
            [5, -100],
            [6, 27.27272727272727],
            [7, 27.27272727272727],
        ],
    ),
    (
        "SELECT chande_momentum_oscillator(v, 3, 0, 'exponential') FROM k WHERE s = 'gap'",
        [
            [0, 100],
            [1, 100],
            [2, 24.999999999999993],
            [6, 81.25000000000001],
            [7, 11.538461538461542],
            [8, 48.60335195530726],
            [12, -25.905292479108628],
            [13, 19.5013357079252],
            [14, -12.172774869109942],
            [15, 6.428278968199813],
        ],
    ),
    (
        "SELECT kaufmans_efficiency_ratio(v, 3, 0) FROM k WHERE s = 'gap'",
        [
            [0, 1],
            [1, 1],
            [2, 0.5],
            [6, 0.7777777777777778],
            [7, 0.09090909090909091],
            [8, 0.4666666666666667],
            [12, 0.4117647058823529],
            [13, 0.15789473684210525],
            [14, 0.3333333333333333],
            [15, 0.3333333333333333],
        ],
    ),
    (
        "SELECT kaufmans_adaptive_moving_average(v, 2) FROM k WHERE s = 'neg'",
        [
            [2, -1.1026153312521678],
            [3, -1.1021882122875386],
            [4, -1.190518783497117],
            [5, -4.661399324165066],
            [6, -4.5221508356912805],
            [7, -4.599474167238603],
        ],
    ),
    (
        "SELECT kaufmans_adaptive_moving_average(v, 3, 0) FROM k WHERE s = 'gap'",
        [
            [0, 0.44444444444444453],
            [1, 1.888888888888889],
            [2, 2.866342929818476],
            [6, 3.7036094945679867],
            [7, 3.7078248352636103],
            [8, 4.3396251990678865],
            [12, 4.013572434170478],
            [13, 4.089636073937657],
            [14, 4.012981776833527],
            [15, 4.082417058883599],
        ],
    ),
    (
        f"SELECT exponential_moving_average(mean(v), 2) FROM k WHERE {BUCKETS}",
        [
            [2, 2],
            [6, 4.666666666666666],
            [8, 7.555555555555555],
            [12, 5.185185185185185],
            [14, 4.395061728395062],
        ],
    ),
    (
        f"SELECT exponential_moving_average(mean(v), 2) FROM k WHERE {BUCKETS} fill(0)",
        [
            [0, 1.3333333333333333],
            [2, 1.7777777777777777],
            [4, 0.5925925925925926],
            [6, 4.197530864197531],
            [8, 7.399176954732511],
            [10, 2.4663923182441705],
            [12, 3.488797439414723],
            [14, 3.8295991464715744],
            [16, 1.2765330488238584],
            [18, 0.4255110162746195],
        ],
    ),
    (
        f"SELECT relative_strength_index(mean(v), 2) FROM k WHERE {LATER} fill(previous)",
        [
            [6, 100],
            [8, 100],
            [10, 100],
            [12, 21.05263157894737],
            [14, 21.05263157894737],
            [16, 21.05263157894737],
            [18, 21.05263157894737],
        ],
    ),
    (
        "SELECT exponential_moving_average(v, 2, 0) FROM k WHERE s = 'gap' ORDER BY time DESC",
        [
            [15, 5],
            [14, 3.666666666666667],
            [13, 5.888888888888889],
            [12, 2.6296296296296298],
            [8, 6.876543209876543],
            [7, 4.958847736625515],
            [6, 6.986282578875171],
            [2, 3.6620941929583903],
            [1, 3.2206980643194636],
            [0, 1.740232688106488],
        ],
    ),
]


def answer(app: App, q: str) -> dict:
    import json

    return json.loads(v1_json(app.influxql.run(ANONYMOUS, "db", q, now=100 * S), "s"))["results"][0]


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(("q", "expected"), CASES)
def test_same_values_as_influxdb_1_6(app: App, q: str, expected: list[list]) -> None:
    (series,) = answer(app, q)["series"]
    got = series["values"]
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert all(_close(a, b) for (_, a), (_, b) in zip(got, expected, strict=True)), got


ERRORS = {
    "SELECT exponential_moving_average(v) FROM k": (
        "invalid number of arguments for exponential_moving_average, "
        "expected at least 2 but no more than 4, got 1"
    ),
    "SELECT exponential_moving_average(v, 0) FROM k": (
        "exponential_moving_average period must be greater than or equal to 1"
    ),
    "SELECT exponential_moving_average(v, 2.5) FROM k": (
        "exponential_moving_average period must be an integer"
    ),
    "SELECT exponential_moving_average(v, 2, 'x') FROM k": (
        "exponential_moving_average hold period must be an integer"
    ),
    "SELECT exponential_moving_average(v, 3, -2) FROM k": (
        "exponential_moving_average hold period must be greater than or equal to 0"
    ),
    "SELECT exponential_moving_average(v, 2, 1, 3) FROM k": (
        "exponential_moving_average warmup type must be a string"
    ),
    "SELECT exponential_moving_average(v, 3, 1, 'foo') FROM k": (
        "exponential_moving_average warmup type must be one of: 'exponential' 'simple'"
    ),
    "SELECT triple_exponential_derivative(v, 2, 0) FROM k": (
        "triple_exponential_derivative hold period must be greater than or equal to 1"
    ),
    "SELECT kaufmans_efficiency_ratio(v, 2, 1, 'simple') FROM k": (
        "invalid number of arguments for kaufmans_efficiency_ratio, "
        "expected at least 2 but no more than 3, got 4"
    ),
    "SELECT chande_momentum_oscillator(v, 2, 1, 'foo') FROM k": (
        "chande_momentum_oscillator warmup type must be one of: 'none' 'exponential' 'simple'"
    ),
    "SELECT exponential_moving_average(v, 2) FROM k GROUP BY time(2s)": (
        "aggregate function required inside the call to exponential_moving_average"
    ),
    "SELECT exponential_moving_average(mean(v), 2) FROM k": (
        "exponential_moving_average aggregate requires a GROUP BY interval"
    ),
    "SELECT exponential_moving_average(v, 2), v FROM k": (
        "mixing aggregate and non-aggregate queries is not supported"
    ),
}


@pytest.mark.parametrize(("q", "message"), ERRORS.items())
def test_errors_are_influxdb_1_6s(app: App, q: str, message: str) -> None:
    assert answer(app, q)["error"] == message


def test_a_tag_has_no_indicator(app: App) -> None:
    assert "series" not in answer(app, "SELECT exponential_moving_average(s, 2) FROM k")


def test_per_series_and_limited(app: App) -> None:
    q = "SELECT exponential_moving_average(v, 2) AS e FROM k WHERE s = 'ramp' LIMIT 2 OFFSET 1"
    assert answer(app, q)["series"][0]["values"] == [[2, 14 / 9], [3, 68 / 27]]
    q = "SELECT kaufmans_efficiency_ratio(v, 1) FROM k WHERE s = 'ramp' OR s = 'neg' GROUP BY s"
    neg, ramp = answer(app, q)["series"]
    assert (neg["tags"], ramp["tags"]) == ({"s": "neg"}, {"s": "ramp"})
    assert neg["values"][0] == ramp["values"][0] == [1, 1]


def test_scan_is_the_recurrence_within_each_series() -> None:
    rng = random.Random(2)
    pos = np.array([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 0])
    a = np.array([rng.uniform(0, 1) for _ in pos])
    b = np.array([rng.uniform(-5, 5) for _ in pos])
    for factor in (a, 0.5):
        expected: list[float] = []
        for i, p in enumerate(pos):
            step = factor if isinstance(factor, float) else factor[i]
            expected.append(b[i] if p == 0 else step * expected[-1] + b[i])
        assert np.allclose(_scan(factor, b, pos), expected, rtol=1e-14)


def test_many_points_run_in_whole_array_steps() -> None:
    values = np.cumsum(np.random.default_rng(1).normal(size=200_000)) + 100
    pos = np.tile(np.arange(20_000), 10)
    call = ast.Call("triple_exponential_moving_average", (ast.VarRef("v"), ast.NumberLit(9, True)))
    k, out = indicator(call, values, pos)
    assert k.size == 200_000 - 10 * 8 and np.isfinite(out).all()
