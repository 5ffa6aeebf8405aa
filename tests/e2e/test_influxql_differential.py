"""Differential test: the same data and InfluxQL on flight-iox and on InfluxDB 1.x (influxd).

Skipped when Debian's ``influxd`` is not installed. The queries are generated from
templates (functions x grouping x fill x ordering) over deterministic data, and
both answers are compared as v1 JSON, floats with a relative tolerance.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.influxdb1 import InfluxDB1
from flight_iox.launcher import RunningServer, start_server

pytestmark = pytest.mark.skipif(
    not InfluxDB1.available(), reason="influxd (InfluxDB 1.x) is not installed"
)
START = 1_600_000_000_000_000_000
STEP = 10_000_000_000
RANGE = "time >= '2020-09-13T12:26:40Z' AND time < '2020-09-13T12:46:40Z'"


def _data() -> str:
    rng = random.Random(7)
    lines = []
    for i in range(120):
        for host, region in (("a", "west"), ("b", "west"), ("c", "east")):
            if rng.random() < 0.15:
                continue  # gaps, so fill() matters
            usage = round(rng.uniform(0, 100), 2)
            lines.append(
                f"cpu,host={host},region={region} usage={usage},n={rng.randint(0, 50)}i,"
                f"up={str(rng.random() < 0.5).lower()} {START + i * STEP}"
            )
        lines.append(f"mem,host=a free={rng.randint(0, 1000)}i {START + i * STEP}")
    return "\n".join(lines)


def _queries() -> Iterator[str]:
    functions = ["count(usage)", "mean(usage)", "sum(n)", "max(usage)", "min(n)", "first(usage)",
                 "last(usage)", "spread(usage)", "median(usage)", "stddev(usage)"]  # fmt: skip
    groupings = ["", " GROUP BY host", " GROUP BY time(1m)", " GROUP BY time(1m), host",
                 " GROUP BY time(90s, 10s), region"]  # fmt: skip
    fills = ["", " fill(none)", " fill(0)", " fill(previous)", " fill(linear)"]
    for fn, group, fill in itertools.product(functions, groupings, fills):
        if fill and "time(" not in group:
            continue
        yield f"SELECT {fn} FROM cpu WHERE {RANGE}{group}{fill}"
    yield f"SELECT usage, host FROM cpu WHERE {RANGE} AND host = 'a' LIMIT 5"
    yield f"SELECT usage FROM cpu WHERE {RANGE} GROUP BY host ORDER BY time DESC LIMIT 3"
    yield f"SELECT usage FROM cpu WHERE {RANGE} AND (host = 'a' OR usage > 90) AND n < 20"
    yield f"SELECT mean(usage) FROM cpu WHERE {RANGE} GROUP BY time(2m), * SLIMIT 2"
    yield f"SELECT difference(max(n)) FROM cpu WHERE {RANGE} GROUP BY time(1m), host"
    yield f"SELECT derivative(usage, 1s) FROM cpu WHERE {RANGE} AND host = 'b'"
    yield f"SELECT cumulative_sum(n) FROM cpu WHERE {RANGE} AND host = 'c'"
    yield f"SELECT moving_average(usage, 3) FROM cpu WHERE {RANGE} AND host = 'a'"
    yield f"SELECT count(usage) / 2 FROM cpu WHERE {RANGE} GROUP BY time(5m)"
    yield f"SELECT max(usage), n FROM cpu WHERE {RANGE}"
    yield f"SELECT percentile(usage, 90) FROM cpu WHERE {RANGE} GROUP BY host"
    yield f"SELECT integral(usage) FROM cpu WHERE {RANGE} AND host = 'b'"
    yield f"SELECT integral(usage) FROM cpu WHERE {RANGE} GROUP BY time(1m), host"
    yield f"SELECT integral(usage) FROM cpu WHERE {RANGE} AND host = 'c' GROUP BY time(40s) fill(0)"
    paris = " tz('Europe/Paris')"
    yield f"SELECT integral(usage, 1m) FROM cpu WHERE {RANGE} GROUP BY time(1m), host{paris}"
    yield f"SELECT usage FROM cpu WHERE {RANGE} AND host = 'a' LIMIT 3{paris}"
    yield f"SELECT count(usage) FROM cpu WHERE {RANGE} GROUP BY time(5m), host{paris}"
    yield f"SELECT max(usage) FROM cpu WHERE {RANGE}{paris}"
    days = "time >= '2020-09-10T00:00:00Z' AND time < '2020-09-16T00:00:00Z'"
    yield f"SELECT mean(usage) FROM cpu WHERE {days} GROUP BY time(1d){paris}"
    yield f"SELECT sum(n) FROM cpu WHERE {days} GROUP BY time(1d), region fill(0){paris}"
    yield from _technical_queries()
    yield "SHOW MEASUREMENTS"
    yield "SHOW TAG KEYS FROM cpu"
    yield 'SHOW TAG VALUES FROM cpu WITH KEY = "host"'
    yield "SHOW FIELD KEYS"
    yield "SHOW SERIES FROM cpu"


INDICATORS = ["exponential_moving_average", "double_exponential_moving_average",
              "triple_exponential_moving_average", "triple_exponential_derivative",
              "relative_strength_index", "chande_momentum_oscillator",
              "kaufmans_efficiency_ratio", "kaufmans_adaptive_moving_average"]  # fmt: skip


def _technical_queries() -> Iterator[str]:
    """The technical-analysis functions: per series (merged series tie in 1.x's own order)."""
    warmups = {"chande_momentum_oscillator": ["none", "exponential", "simple"]}
    for fn in INDICATORS:
        yield f"SELECT {fn}(usage, 5) FROM cpu WHERE {RANGE} GROUP BY host"
        yield f"SELECT {fn}(n, 3, 1) FROM cpu WHERE {RANGE} AND host = 'b'"
        newest = "GROUP BY host ORDER BY time DESC LIMIT 5"
        yield f"SELECT {fn}(usage, 4) FROM cpu WHERE {RANGE} {newest}"
        for fill in ("", " fill(0)", " fill(previous)", " fill(none)"):
            yield (f"SELECT {fn}(mean(usage), 3) FROM cpu WHERE {RANGE} "
                   f"GROUP BY time(1m), host{fill}")  # fmt: skip
        if fn.startswith("kaufmans"):
            continue
        for warmup in warmups.get(fn, ["exponential", "simple"]):
            hold = 1 if fn == "triple_exponential_derivative" else 0
            yield f"SELECT {fn}(usage, 3, {hold}, '{warmup}') FROM cpu WHERE {RANGE} AND host = 'c'"
            yield f"SELECT {fn}(usage, 6, -1, '{warmup}') FROM cpu WHERE {RANGE} AND host = 'a'"
    offset = "GROUP BY time(90s, 10s), region"
    yield f"SELECT exponential_moving_average(max(n), 2) FROM cpu WHERE {RANGE} {offset}"
    yield f"SELECT exponential_moving_average(usage, 0) FROM cpu WHERE {RANGE}"
    yield f"SELECT relative_strength_index(usage, 2.5) FROM cpu WHERE {RANGE}"
    yield f"SELECT chande_momentum_oscillator(usage, 3, 1, 'bad') FROM cpu WHERE {RANGE}"
    yield f"SELECT triple_exponential_derivative(usage, 3, 0) FROM cpu WHERE {RANGE}"
    yield f"SELECT kaufmans_efficiency_ratio(usage, 3, 1, 'simple') FROM cpu WHERE {RANGE}"
    yield f"SELECT exponential_moving_average(usage, 3) FROM cpu WHERE {RANGE} GROUP BY time(1m)"
    yield f"SELECT exponential_moving_average(mean(usage), 3) FROM cpu WHERE {RANGE}"
    yield f"SELECT exponential_moving_average(usage, 3), n FROM cpu WHERE {RANGE}"


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, InfluxDB1]]:
    data = _data()
    with InfluxDB1() as oracle:
        oracle.query("CREATE DATABASE diff")
        reply = requests.post(f"{oracle.url}/write", params={"db": "diff"}, data=data)
        assert reply.status_code == 204, reply.text
        server: RunningServer = start_server(
            Path(tmp_path_factory.mktemp("diff")) / "data", "--no-persist-on-shutdown"
        )
        try:
            reply = requests.post(f"{server.http_url}/write", params={"db": "diff"}, data=data)
            assert reply.status_code == 204, reply.text
            yield server.http_url, oracle
        finally:
            server.stop()


def _close(a: object, b: object) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def _tied_rows_sorted(reply: dict) -> dict:
    """Rows at the same time in a stable order: 1.x interleaves series by internal ids there."""
    for result in reply.get("results", []):
        for series in result.get("series", []):
            series["values"] = sorted(series["values"], key=lambda row: (row[0], repr(row[1:])))
    return reply


def _same_series_merged(reply: dict) -> dict:
    for result in reply.get("results", []):
        merged: dict[str, dict] = {}
        for series in result.get("series", []):
            key = repr((series.get("name"), series.get("tags")))
            if key in merged:
                merged[key]["values"] = sorted(merged[key]["values"] + series["values"])
            else:
                merged[key] = series
        if "series" in result:
            result["series"] = list(merged.values())
    return reply


@pytest.mark.parametrize("q", list(_queries()))
def test_same_answer_as_influxdb1(both: tuple[str, InfluxDB1], q: str) -> None:
    url, oracle = both
    ours = requests.get(f"{url}/query", params={"db": "diff", "q": q}, timeout=60).json()
    theirs = oracle.query(q, db="diff")
    if "integral(" in q:  # 1.6 sends a series' last integral bucket as a series of its own
        theirs = _same_series_merged(theirs)
    if "ORDER BY" not in q:
        ours, theirs = _tied_rows_sorted(ours), _tied_rows_sorted(theirs)
    assert _close(ours, theirs), f"\nours:   {ours}\ntheirs: {theirs}"
