"""The Flux requests Grafana's InfluxDB data source sends, against data written just now.

Grafana's backend replaces ``v.timeRangeStart``/``v.timeRangeStop`` with RFC 3339 times and
``v.windowPeriod`` with a Go duration (``1m0s``) before it sends the query, with the dialect
of influxdb-client-go; its query builder writes ``r["_field"]``-style filters. The panels'
values are checked against the same aggregation through SQL on the same server, and every
answer is read by influxdb-client's parser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from influxdb_client import InfluxDBClient

from flight_iox.launcher import RunningServer

DB = "flux_grafana"
MINUTE = 60_000_000_000
GRAFANA_DIALECT = {
    "annotations": ["datatype", "group", "default"],
    "delimiter": ",",
    "header": True,
}


def _rfc3339(nanos: int) -> str:
    return datetime.fromtimestamp(nanos / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def window(server: RunningServer) -> tuple[int, int]:
    """Ten minutes of points every 10 s, ending at the last round ten minutes (so 1m and 2m
    windows from the epoch align with the range); the panel's time range."""
    stop = (time.time_ns() // (10 * MINUTE)) * 10 * MINUTE
    start = stop - 10 * MINUTE
    lines = []
    for i in range(60):
        t = start + i * 10_000_000_000
        lines.append(f"cpu,host=a,region=west usage_user={i % 7}.5,usage_system={i % 3}i {t}")
        lines.append(f"cpu,host=b,region=east usage_user={i % 5}.25,usage_system={i % 4}i {t}")
        lines.append(f"mem,host=a used_percent={i}.0 {t}")
    response = requests.post(
        f"{server.http_url}/api/v3/write_lp?db={DB}", data="\n".join(lines), timeout=30
    )
    assert response.status_code == 204, response.text
    return start, stop


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[InfluxDBClient]:
    with InfluxDBClient(url=server.http_url, token="unused", org="main") as influx:
        yield influx


def grafana(server: RunningServer, query: str) -> requests.Response:
    """The request Grafana's backend makes (influxdb-client-go's body)."""
    body = {"query": query, "type": "flux", "dialect": GRAFANA_DIALECT}
    return requests.post(f"{server.http_url}/api/v2/query?org=main", json=body, timeout=60)


def sql(server: RunningServer, query: str) -> list[dict[str, object]]:
    response = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": DB, "q": query}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def time_series_query(start: int, stop: int) -> str:
    return f"""from(bucket: "{DB}")
  |> range(start: {_rfc3339(start)}, stop: {_rfc3339(stop)})
  |> filter(fn: (r) => r["_measurement"] == "cpu")
  |> filter(fn: (r) => r["_field"] == "usage_user")
  |> filter(fn: (r) => r["host"] == "a" or r["host"] == "b")
  |> aggregateWindow(every: 1m0s, fn: mean, createEmpty: false)
  |> yield(name: "mean")"""


def test_time_series_panel(
    server: RunningServer, client: InfluxDBClient, window: tuple[int, int]
) -> None:
    start, stop = window
    query = time_series_query(start, stop)
    raw = grafana(server, query)
    assert raw.status_code == 200, raw.text
    tables = client.query_api().query(query)
    assert [t.records[0]["host"] for t in tables] == ["a", "b"]
    expected = sql(
        server,
        "SELECT host, date_bin(INTERVAL '1 minute', time) + INTERVAL '1 minute' AS t, "
        "avg(usage_user) AS v "
        f"FROM cpu WHERE time >= to_timestamp_nanos({start}) AND time < to_timestamp_nanos({stop}) "
        "GROUP BY host, t ORDER BY host, t",
    )
    got = [(r["host"], r.get_time(), r.get_value()) for t in tables for r in t.records]
    assert len(got) == len(expected) == 20
    for (host, at, value), row in zip(got, expected, strict=True):
        assert host == row["host"]
        assert at == datetime.fromisoformat(str(row["t"])).replace(tzinfo=UTC)
        assert value == pytest.approx(row["v"])
    assert all(r.values["result"] == "mean" for t in tables for r in t.records)


def test_time_series_panel_with_options_in_the_text(
    client: InfluxDBClient, window: tuple[int, int]
) -> None:
    start, stop = window
    bounds = f"timeRangeStart: {_rfc3339(start)}, timeRangeStop: {_rfc3339(stop)}"
    query = f"""option v = {{{bounds}, windowPeriod: 2m}}
from(bucket: "{DB}/autogen")
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r._measurement == "mem" and r._field == "used_percent")
  |> aggregateWindow(every: v.windowPeriod, fn: max)"""
    tables = client.query_api().query(query)
    assert len(tables) == 1
    assert [r.get_value() for r in tables[0].records] == [11.0, 23.0, 35.0, 47.0, 59.0]


def test_table_panel_last_values_pivoted(client: InfluxDBClient, window: tuple[int, int]) -> None:
    start, stop = window
    query = f"""from(bucket: "{DB}")
  |> range(start: {_rfc3339(start)}, stop: {_rfc3339(stop)})
  |> filter(fn: (r) => r._measurement == "cpu")
  |> last()
  |> group()
  |> pivot(rowKey: ["host"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["host"])"""
    tables = client.query_api().query(query)
    assert len(tables) == 1
    assert [c.label for c in tables[0].columns][2:] == ["host", "usage_system", "usage_user"]
    rows = [(r["host"], r["usage_system"], r["usage_user"]) for r in tables[0].records]
    assert rows == [("a", 59 % 3, 59 % 7 + 0.5), ("b", 59 % 4, 59 % 5 + 0.25)]


def test_stat_panel_single_value(client: InfluxDBClient, window: tuple[int, int]) -> None:
    start, stop = window
    query = f"""from(bucket: "{DB}")
  |> range(start: {_rfc3339(start)}, stop: {_rfc3339(stop)})
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_system")
  |> group(columns: ["_field"])
  |> sum()"""
    tables = client.query_api().query(query)
    total = sum(i % 3 + i % 4 for i in range(60))
    assert [[r.get_value() for r in t.records] for t in tables] == [[total]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("buckets()", None),
        (f'import "influxdata/influxdb/v1"\nv1.measurements(bucket: "{DB}")', ["cpu", "mem"]),
        (
            f'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "{DB}")',
            ["cpu", "mem"],
        ),
        (
            f'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "{DB}", tag: "host")',
            ["a", "b"],
        ),
        (
            f'import "influxdata/influxdb/schema"\n'
            f'schema.tagValues(bucket: "{DB}", tag: "region", predicate: (r) => r.host == "b",'
            " start: -1d)",
            ["east"],
        ),
        (
            f'import "influxdata/influxdb/schema"\n'
            f'schema.measurementTagValues(bucket: "{DB}", measurement: "mem", tag: "host")',
            ["a"],
        ),
        (
            f'import "influxdata/influxdb/v1"\n'
            f'v1.tagKeys(bucket: "{DB}", predicate: (r) => r._measurement == "mem")',
            ["_field", "_measurement", "_start", "_stop", "host"],
        ),
        (
            f'import "influxdata/influxdb/schema"\n'
            f'schema.measurementFieldKeys(bucket: "{DB}", measurement: "cpu")',
            ["usage_system", "usage_user"],
        ),
        (
            f'import "influxdata/influxdb/v1"\nv1.fieldKeys(bucket: "{DB}")',
            ["usage_system", "usage_user", "used_percent"],
        ),
    ],
)
def test_variable_queries(
    server: RunningServer,
    client: InfluxDBClient,
    window: tuple[int, int],
    query: str,
    expected: list[str] | None,
) -> None:
    raw = grafana(server, query)
    assert raw.status_code == 200, raw.text
    tables = client.query_api().query(query)
    if expected is None:  # buckets(): the names are in column "name"
        assert DB in [r["name"] for t in tables for r in t.records]
        return
    assert [r.get_value() for t in tables for r in t.records] == expected
