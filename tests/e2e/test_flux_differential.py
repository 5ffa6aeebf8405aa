"""Flux aggregates cross-checked against InfluxDB 1.x (``influxd``) answering InfluxQL.

There is no Flux server here (Debian's InfluxDB 1.6 predates Flux), so the values come
from the same data queried through InfluxQL on ``influxd``: ``aggregateWindow(every, fn)``
against ``SELECT fn(f) ... GROUP BY time(every), *`` (Flux stamps a window with its stop,
InfluxQL with its start), per-series aggregates against ``GROUP BY *``, ``group()`` then an
aggregate against no grouping, and ``derivative``/``difference`` against InfluxQL's.
Skipped when ``influxd`` is not installed.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
from influxdb_client import InfluxDBClient

from bench.influxdb1 import InfluxDB1
from flight_iox.launcher import RunningServer

pytestmark = pytest.mark.skipif(
    not InfluxDB1.available(), reason="influxd (InfluxDB 1.x) is not installed"
)
DB = "flux_diff"
START = 1_600_000_000_000_000_000
STEP = 10_000_000_000
# Aligned to 1m and 90s windows, so neither side cuts a window at the range's start.
FROM, TO = "2020-09-13T12:27:00Z", "2020-09-13T12:45:00Z"
FUNCTIONS = ["mean", "sum", "count", "min", "max", "first", "last", "median"]


def _data() -> str:
    rng = random.Random(11)
    lines = []
    for i in range(120):
        for host, region in (("a", "west"), ("b", "west"), ("c", "east")):
            if rng.random() < 0.2:
                continue  # gaps, so empty windows and uneven counts occur
            usage = round(rng.uniform(0, 100), 2)
            n = rng.randint(0, 50)
            lines.append(f"cpu,host={host},region={region} usage={usage},n={n}i {START + i * STEP}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def oracle(server: RunningServer) -> Iterator[InfluxDB1]:
    data = _data()
    with InfluxDB1() as influxd:
        influxd.query(f"CREATE DATABASE {DB}")
        reply = requests.post(f"{influxd.url}/write", params={"db": DB}, data=data, timeout=60)
        assert reply.status_code == 204, reply.text
        reply = requests.post(f"{server.http_url}/write", params={"db": DB}, data=data, timeout=60)
        assert reply.status_code == 204, reply.text
        yield influxd


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[InfluxDBClient]:
    with InfluxDBClient(url=server.http_url, token="unused", org="any") as influx:
        yield influx


def _nanos(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000_000


def influxql(oracle: InfluxDB1, q: str) -> dict[tuple[str, int], object]:
    """``(host, time in ns) -> value`` of every row of every series."""
    out: dict[tuple[str, int], object] = {}
    for series in oracle.query(q, db=DB)["results"][0].get("series", []):
        host = series.get("tags", {}).get("host", "")
        for time, value in series["values"]:
            out[(host, _nanos(time))] = value
    return out


def flux(client: InfluxDBClient, q: str, stamp: str = "_time") -> dict[tuple[str, int], object]:
    """``(host, stamp in ns) -> _value`` of every record (stamp 0 when the column is gone)."""
    out: dict[tuple[str, int], object] = {}
    for table in client.query_api().query(q):
        for record in table.records:
            at = record.values.get(stamp)
            nanos = int(at.timestamp()) * 1_000_000_000 if at is not None else 0
            out[(record.values.get("host") or "", nanos)] = record.get_value()
    return out


def same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_same(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    wrong = {k: (ours[k], theirs[k]) for k in ours if not same(ours[k], theirs[k])}
    assert not wrong


SOURCE = f'from(bucket: "{DB}/autogen") |> range(start: {FROM}, stop: {TO})'
WHERE = f"time >= '{FROM}' AND time < '{TO}'"


@pytest.mark.parametrize(
    ("fn", "field", "every"),
    [
        (fn, field, every)
        for fn, field in itertools.product(FUNCTIONS, ["usage", "n"])
        for every in ("1m", "90s")
    ],
)
def test_aggregate_window(
    oracle: InfluxDB1, client: InfluxDBClient, fn: str, field: str, every: str
) -> None:
    every_ns = {"1m": 60, "90s": 90}[every] * 1_000_000_000
    query = (
        f'{SOURCE} |> filter(fn: (r) => r._measurement == "cpu" and r._field == "{field}")'
        f" |> aggregateWindow(every: {every}, fn: {fn})"
    )
    ours = {(host, t - every_ns): v for (host, t), v in flux(client, query).items()}
    theirs = influxql(
        oracle, f"SELECT {fn}({field}) FROM cpu WHERE {WHERE} GROUP BY time({every}), *"
    )
    if fn == "count":  # Flux counts an empty window as 0, InfluxQL 1.x reports it null
        theirs = {k: 0 if v is None else v for k, v in theirs.items()}
    assert_same(ours, theirs)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_aggregate_per_series_and_overall(
    oracle: InfluxDB1, client: InfluxDBClient, fn: str
) -> None:
    filtered = f'{SOURCE} |> filter(fn: (r) => r._field == "usage")'
    ours = {host: v for (host, _), v in flux(client, f"{filtered} |> {fn}()", "_start").items()}
    theirs = {
        h: v
        for (h, _), v in influxql(
            oracle, f"SELECT {fn}(usage) FROM cpu WHERE {WHERE} GROUP BY *"
        ).items()
    }
    assert_same(ours, theirs)
    if fn in ("first", "last"):
        return  # across series every time has several points: which one is first is a tie
    overall = flux(client, f"{filtered} |> group() |> {fn}()")
    expected = influxql(oracle, f"SELECT {fn}(usage) FROM cpu WHERE {WHERE}")
    assert [round(v, 9) for v in overall.values()] == [round(v, 9) for v in expected.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flux_call", "influxql_call"),
    [
        ("derivative(unit: 1s)", "derivative(usage, 1s)"),
        ("derivative(unit: 1m, nonNegative: true)", "non_negative_derivative(usage, 1m)"),
        ("difference()", "difference(usage)"),
    ],
)
def test_derivative_and_difference(
    oracle: InfluxDB1, client: InfluxDBClient, flux_call: str, influxql_call: str
) -> None:
    query = f'{SOURCE} |> filter(fn: (r) => r._field == "usage" and r.host == "b") |> {flux_call}'
    ours = {k: v for k, v in flux(client, query).items() if v is not None}
    theirs = influxql(oracle, f"SELECT {influxql_call} FROM cpu WHERE {WHERE} AND host = 'b'")
    theirs = {("b", t): v for (_, t), v in theirs.items()}
    assert_same(ours, theirs)
