"""Flux over ``POST /api/v2/query``: fixtures written from the Flux spec, parsed by influxdb-client.

The expected tables below follow the Flux documentation (one table per series and
field, ``_start``/``_stop`` from ``range``, ``aggregateWindow`` stamping each window with
its stop, empty windows null, annotated CSV with CRLF line ends). Every answer is also
read by influxdb-client's own parsers (``query``, ``query_data_frame``, ``query_csv``,
``query_stream``), unchanged, as a client of InfluxDB 2 would.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from influxdb_client import InfluxDBClient
from influxdb_client.client.warnings import MissingPivotFunction

from flight_iox.launcher import RunningServer

DB = "flux_e2e"
T0 = 1_600_000_000_000_000_000  # 2020-09-13T12:26:40Z
STEP = 20_000_000_000
ANNOTATED = {"annotations": ["datatype", "group", "default"]}
RANGE = "range(start: 2020-09-13T12:26:40Z, stop: 2020-09-13T12:27:40Z)"
CPU = 'r._measurement == "cpu"'
LOG = 'r._measurement == "log"'


def _lines() -> str:
    lines = []
    for i in range(6):
        t = T0 + i * STEP
        lines.append(
            f"cpu,host=a,region=west usage={i * 1.5},n={i}i,ok={str(i % 2 == 0).lower()} {t}"
        )
        lines.append(f"cpu,host=b usage={i * 2.0} {t}")
        lines.append(f'log,host=a msg="hello, \\"{i}\\"" {t}')
    return "\n".join(lines)


@pytest.fixture(scope="module")
def url(server: RunningServer) -> str:
    response = requests.post(
        f"{server.http_url}/api/v3/write_lp?db={DB}", data=_lines(), timeout=30
    )
    assert response.status_code == 204, response.text
    return server.http_url


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[InfluxDBClient]:
    with InfluxDBClient(url=url, token="unused", org="any") as influx:
        yield influx


def flux(url: str, query: str, **extra: object) -> requests.Response:
    body = {"query": query, "dialect": ANNOTATED, **extra}
    return requests.post(f"{url}/api/v2/query?org=any", json=body, timeout=60)


def csv(*blocks: str) -> str:
    """Expected CSV: blocks of lines (one table schema each), CRLF, a blank line between."""
    return "\r\n\r\n".join("\r\n".join(b.strip().splitlines()) for b in blocks) + "\r\n\r\n"


RAW = f"""from(bucket: "{DB}/autogen")
  |> {RANGE}
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")"""

RAW_EXPECTED = csv(
    """
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string
#group,false,false,true,true,false,false,true,true,true,true
#default,_result,,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host,region
,,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:26:40Z,0,usage,cpu,a,west
,,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:00Z,1.5,usage,cpu,a,west
,,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:20Z,3,usage,cpu,a,west
""",
    """
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string
#group,false,false,true,true,false,false,true,true,true
#default,_result,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host
,,1,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:26:40Z,0,usage,cpu,b
,,1,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:00Z,2,usage,cpu,b
,,1,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:20Z,4,usage,cpu,b
""",
)


def test_from_range_filter_answers_one_table_per_series(url: str) -> None:
    response = flux(url, RAW)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == RAW_EXPECTED


def test_vnd_flux_body_answers_csv_without_annotations(url: str) -> None:
    response = requests.post(
        f"{url}/api/v2/query",
        data=RAW + ' |> filter(fn: (r) => r.host == "b")',
        headers={"Content-Type": "application/vnd.flux"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.text == csv(
        """
,result,table,_start,_stop,_time,_value,_field,_measurement,host
,_result,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:26:40Z,0,usage,cpu,b
,_result,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:00Z,2,usage,cpu,b
,_result,0,2020-09-13T12:26:40Z,2020-09-13T12:27:40Z,2020-09-13T12:27:20Z,4,usage,cpu,b
"""
    )


def test_aggregate_window_stamps_window_stops_and_creates_empty_windows(url: str) -> None:
    # Windows of 40s from the epoch: [12:26:00, 12:26:40) is cut by the range's start, and
    # the last window ends at the range's stop, where host b has no point.
    query = f"""from(bucket: "{DB}")
  |> range(start: 2020-09-13T12:26:30Z, stop: 2020-09-13T12:29:00Z)
  |> filter(fn: (r) => r._field == "usage" and r.host == "b")
  |> aggregateWindow(every: 40s, fn: mean)"""
    response = flux(url, query)
    assert response.status_code == 200, response.text
    assert response.text == csv(
        """
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string
#group,false,false,true,true,false,false,true,true,true
#default,_result,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host
,,0,2020-09-13T12:26:30Z,2020-09-13T12:29:00Z,2020-09-13T12:26:40Z,,usage,cpu,b
,,0,2020-09-13T12:26:30Z,2020-09-13T12:29:00Z,2020-09-13T12:27:20Z,1,usage,cpu,b
,,0,2020-09-13T12:26:30Z,2020-09-13T12:29:00Z,2020-09-13T12:28:00Z,5,usage,cpu,b
,,0,2020-09-13T12:26:30Z,2020-09-13T12:29:00Z,2020-09-13T12:28:40Z,9,usage,cpu,b
,,0,2020-09-13T12:26:30Z,2020-09-13T12:29:00Z,2020-09-13T12:29:00Z,,usage,cpu,b
"""
    )
    counted = flux(url, query.replace("fn: mean", "fn: count, createEmpty: true"))
    values = [line.split(",")[6] for line in counted.text.splitlines() if line.startswith(",,")]
    assert values == ["0", "2", "2", "2", "0"]
    kept = flux(url, query.replace("fn: mean", "fn: max, createEmpty: false"))
    values = [line.split(",")[6] for line in kept.text.splitlines() if line.startswith(",,")]
    assert values == ["2", "6", "10"]


def test_integer_and_float_fields_are_separate_tables_in_series_order(url: str) -> None:
    response = flux(
        url,
        f'from(bucket: "{DB}") |> {RANGE} |> filter(fn: (r) => r.host == "a" and {CPU})',
    )
    blocks = [b for b in response.text.split("\r\n\r\n") if b]
    assert [b.splitlines()[0].split(",")[6] for b in blocks] == ["long", "boolean", "double"]
    fields = [b.splitlines()[4].split(",")[7] for b in blocks]
    assert fields == [
        "n",
        "ok",
        "usage",
    ]  # the series key order: cpu,host=a,region=west n, ok, usage


def test_strings_are_quoted_as_go_csv_does(url: str) -> None:
    response = flux(
        url,
        f'from(bucket: "{DB}") |> {RANGE} |> filter(fn: (r) => {LOG}) |> limit(n: 1)',
    )
    assert ',"hello, ""0""",msg,log,a' in response.text


def test_influxdb_client_parsers_read_every_answer(client: InfluxDBClient) -> None:
    api = client.query_api()
    tables = api.query(RAW)
    keys = [[c.label for c in t.get_group_key()] for t in tables]
    base = ["_start", "_stop", "_field", "_measurement", "host"]
    assert keys == [[*base, "region"], base]  # a series without a tag has no such column
    assert [[r.get_value() for r in t.records] for t in tables] == [
        [0.0, 1.5, 3.0],
        [0.0, 2.0, 4.0],
    ]
    assert tables[0].records[1].get_time() == datetime(2020, 9, 13, 12, 27, tzinfo=UTC)
    assert tables[1].records[0].values.get("region") is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingPivotFunction)
        frames = api.query_data_frame(RAW)
    assert [list(f["_value"]) for f in frames] == [[0.0, 1.5, 3.0], [0.0, 2.0, 4.0]]
    rows = list(api.query_csv(RAW))
    assert rows[3] == [
        "",
        "result",
        "table",
        "_start",
        "_stop",
        "_time",
        "_value",
        "_field",
        "_measurement",
        "host",
        "region",
    ]
    assert rows[4][6] == "0"
    records = list(api.query_stream(RAW))
    assert [r.get_value() for r in records] == [0.0, 1.5, 3.0, 0.0, 2.0, 4.0]
    assert {r.values["table"] for r in records} == {0, 1}


def test_influxdb_client_reads_types_and_yields(client: InfluxDBClient) -> None:
    query = f"""data = from(bucket: "{DB}") |> {RANGE}
  |> filter(fn: (r) => r.host == "a" and {CPU})
data |> filter(fn: (r) => r._field == "n") |> sum() |> yield(name: "total")
data |> filter(fn: (r) => r._field == "ok") |> last() |> yield(name: "latest")"""
    tables = client.query_api().query(query)
    by_result = {
        (r.values["result"], r.get_field()): r.get_value() for t in tables for r in t.records
    }
    assert by_result == {("total", "n"): 3, ("latest", "ok"): True}


def test_transformations(client: InfluxDBClient) -> None:
    api = client.query_api()

    def values(query: str) -> list[list[object]]:
        return [[r.get_value() for r in t.records] for t in api.query(query)]

    usage = f'from(bucket: "{DB}") |> {RANGE} |> filter(fn: (r) => r._field == "usage")'
    assert values(
        usage + ' |> group() |> sort(columns: ["_value"], desc: true) |> limit(n: 2)'
    ) == [[4.0, 3.0]]
    assert values(usage + ' |> group(columns: ["_field"]) |> count()') == [[6]]
    assert values(usage + " |> map(fn: (r) => ({r with _value: r._value * 10.0 + 1.0}))") == [
        [1.0, 16.0, 31.0],
        [1.0, 21.0, 41.0],
    ]
    assert values(usage + " |> difference()") == [[1.5, 1.5], [2.0, 2.0]]
    assert values(usage + " |> derivative(unit: 1m)") == [[4.5, 4.5], [6.0, 6.0]]
    assert values(usage + " |> filter(fn: (r) => r.host =~ /^b$/ or not r._value < 3.0)") == [
        [3.0],
        [0.0, 2.0, 4.0],
    ]
    assert values(usage + " |> mean()") == [[1.5], [2.0]]
    assert values(usage + " |> median()") == [[1.5], [2.0]]
    assert values(usage + " |> first()") == [[0.0], [0.0]]
    assert values(usage + " |> max()") == [[3.0], [4.0]]
    assert values(usage + ' |> group() |> distinct(column: "host")') == [["a", "b"]]
    window = values(usage + ' |> filter(fn: (r) => r.host == "a") |> window(every: 40s) |> sum()')
    assert window == [[1.5], [3.0]]
    kept = api.query(
        usage
        + ' |> keep(columns: ["_time", "_value", "host"]) |> rename(columns: {host: "server"})'
    )
    assert [c.label for c in kept[0].columns] == ["result", "table", "_time", "_value", "server"]
    dropped = api.query(usage + ' |> drop(columns: ["_start", "_stop", "region"])')
    assert "_start" not in [c.label for c in dropped[0].columns]


def test_row_order_operations(client: InfluxDBClient) -> None:
    api = client.query_api()

    def values(query: str) -> list[list[object]]:
        return [[r.get_value() for r in t.records] for t in api.query(query)]

    usage = f'from(bucket: "{DB}") |> {RANGE} |> filter(fn: (r) => r._field == "usage")'
    assert values(usage + " |> tail(n: 2)") == [[1.5, 3.0], [2.0, 4.0]]
    assert values(usage + " |> top(n: 1)") == [[3.0], [4.0]]
    assert values(usage + " |> bottom(n: 2)") == [[0.0, 1.5], [0.0, 2.0]]
    assert values(usage + " |> cumulativeSum()") == [[0.0, 1.5, 4.5], [0.0, 2.0, 6.0]]
    assert values(usage + " |> movingAverage(n: 2)") == [[0.75, 2.25], [1.0, 3.0]]
    assert values(usage + " |> increase()") == [[1.5, 3.0], [2.0, 4.0]]
    assert values(usage + " |> toInt()") == [[0, 1, 3], [0, 2, 4]]
    clipped = " |> map(fn: (r) => ({r with _value: if r._value > 1.0 then r._value else 0.0}))"
    assert values(usage + clipped + " |> unique()") == [[0.0, 1.5, 3.0], [0.0, 2.0, 4.0]]
    shifted = api.query(usage + " |> timeShift(duration: 1h) |> first()")
    assert shifted[0].records[0].get_time() == datetime(2020, 9, 13, 13, 26, 40, tzinfo=UTC)
    gaps = f"""from(bucket: "{DB}")
  |> range(start: 2020-09-13T12:26:30Z, stop: 2020-09-13T12:29:00Z)
  |> filter(fn: (r) => r._field == "usage" and r.host == "b")
  |> aggregateWindow(every: 40s, fn: mean)"""
    assert values(gaps + " |> fill(usePrevious: true)") == [[None, 1.0, 5.0, 9.0, 9.0]]
    assert values(gaps + " |> fill(value: -1.0)") == [[-1.0, 1.0, 5.0, 9.0, -1.0]]


def test_pivot_makes_fields_columns(client: InfluxDBClient) -> None:
    query = f"""from(bucket: "{DB}") |> {RANGE}
  |> filter(fn: (r) => r._measurement == "cpu" and r.host == "a")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")"""
    tables = client.query_api().query(query)
    assert len(tables) == 1
    labels = [c.label for c in tables[0].columns]
    assert labels[-3:] == ["n", "ok", "usage"]
    rows = [(r["n"], r["ok"], r["usage"]) for r in tables[0].records]
    assert rows == [(0, True, 0.0), (1, False, 1.5), (2, True, 3.0)]
    frame = client.query_api().query_data_frame(query)
    assert list(frame["usage"]) == [0.0, 1.5, 3.0]


def test_schema_and_v1_listings(client: InfluxDBClient) -> None:
    api = client.query_api()

    def listed(query: str) -> list[object]:
        return [r.get_value() for t in api.query(query) for r in t.records]

    start = "start: 2020-01-01T00:00:00Z"
    schema = 'import "influxdata/influxdb/schema"\n'
    v1 = 'import "influxdata/influxdb/v1"\n'
    assert listed(schema + f'schema.measurements(bucket: "{DB}", {start})') == ["cpu", "log"]
    assert listed(v1 + f'v1.measurements(bucket: "{DB}", {start})') == ["cpu", "log"]
    assert listed(schema + f'schema.tagValues(bucket: "{DB}", tag: "host", {start})') == ["a", "b"]
    assert listed(
        schema + f'schema.tagValues(bucket: "{DB}", tag: "host", predicate: (r) => {LOG}, {start})'
    ) == ["a"]
    assert listed(v1 + f'v1.tagKeys(bucket: "{DB}", predicate: (r) => {CPU}, {start})') == [
        "_field", "_measurement", "_start", "_stop", "host", "region",
    ]  # fmt: skip
    assert listed(schema + f'schema.fieldKeys(bucket: "{DB}", {start})') == [
        "msg",
        "n",
        "ok",
        "usage",
    ]
    assert listed(
        schema + f'schema.measurementFieldKeys(bucket: "{DB}", measurement: "log", {start})'
    ) == ["msg"]
    assert listed(
        schema
        + f'schema.measurementTagValues(bucket: "{DB}", measurement: "cpu", tag: "region", {start})'
    ) == ["west"]
    buckets = [r.values for t in api.query("buckets()") for r in t.records]
    assert {"name": DB, "retentionPolicy": "autogen"}.items() <= next(
        b for b in buckets if b["name"] == DB
    ).items()
    databases = [
        r.values["databaseName"] for t in api.query(v1 + "v1.databases()") for r in t.records
    ]
    assert DB in databases
    # Time-bounded: nothing was written in the last hour.
    assert listed(schema + f'schema.measurements(bucket: "{DB}", start: -1h)') == []
