"""InfluxQL end to end: the v1 /query API, /api/v3/query_influxql, Flight, and real clients."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from flight_iox.launcher import RunningServer

DATA = "\n".join(
    [
        "cpu,host=a,region=west usage=1.5,n=3i 1000000000",
        "cpu,host=b,region=east usage=2.5,n=4i 2000000000",
        "cpu,host=a,region=west usage=3.5,n=5i 12000000000",
        "mem,host=a free=10i 1000000000",
    ]
)


@pytest.fixture(scope="module")
def db(server: RunningServer) -> str:
    reply = requests.post(f"{server.http_url}/api/v2/write", params={"bucket": "iql"}, data=DATA)
    assert reply.status_code == 204, reply.text
    return "iql"


def query(server: RunningServer, q: str, **params: str) -> requests.Response:
    return requests.get(f"{server.http_url}/query", params={"db": "iql", "q": q, **params})


def test_group_by_time_and_tag_with_fill_and_epoch(server: RunningServer, db: str) -> None:
    reply = query(
        server,
        "SELECT mean(usage) FROM cpu WHERE time >= 0 AND time < 20s "
        "GROUP BY time(10s), host fill(0)",
        epoch="s",
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "cpu",
                        "tags": {"host": "a"},
                        "columns": ["time", "mean"],
                        "values": [[0, 1.5], [10, 3.5]],
                    },
                    {
                        "name": "cpu",
                        "tags": {"host": "b"},
                        "columns": ["time", "mean"],
                        "values": [[0, 2.5], [10, 0]],
                    },
                ],
            }
        ]
    }


def test_several_statements_errors_inside_results(server: RunningServer, db: str) -> None:
    reply = query(server, "SELECT usage FROM cpu WHERE host = 'b'; SELECT count(x), x FROM cpu")
    results = reply.json()["results"]
    assert results[0]["series"][0]["values"] == [["1970-01-01T00:00:02Z", 2.5]]
    assert results[1]["statement_id"] == 1
    assert "mixing aggregate and non-aggregate" in results[1]["error"]


def test_parse_error_is_400_with_position(server: RunningServer, db: str) -> None:
    reply = query(server, "SELECT usage FROM")
    assert reply.status_code == 400
    assert "char 18" in reply.json()["error"]


def test_chunked_and_csv(server: RunningServer, db: str) -> None:
    reply = query(server, "SELECT usage FROM cpu", chunked="true", chunk_size="2")
    chunks = [json.loads(line) for line in reply.text.splitlines()]
    assert [len(c["results"][0]["series"][0]["values"]) for c in chunks] == [2, 1]
    assert chunks[0]["results"][0]["partial"] is True
    reply = requests.get(
        f"{server.http_url}/query",
        params={"db": "iql", "q": "SELECT usage FROM cpu GROUP BY host"},
        headers={"Accept": "application/csv"},
    )
    assert reply.text.splitlines() == [
        "name,tags,time,usage",
        "cpu,host=a,1000000000,1.5",
        "cpu,host=a,12000000000,3.5",
        "cpu,host=b,2000000000,2.5",
    ]


def test_meta_queries(server: RunningServer, db: str) -> None:
    results = query(
        server,
        "SHOW MEASUREMENTS; SHOW TAG KEYS FROM cpu; SHOW TAG VALUES WITH KEY = host; "
        "SHOW FIELD KEYS FROM cpu; SHOW SERIES FROM cpu; SHOW SERIES CARDINALITY",
    ).json()["results"]
    assert results[0]["series"][0]["values"] == [["cpu"], ["mem"]]
    assert results[1]["series"][0]["values"] == [["host"], ["region"]]
    assert results[2]["series"][0]["values"] == [["host", "a"], ["host", "b"]]
    assert results[3]["series"][0]["values"] == [["n", "integer"], ["usage", "float"]]
    assert results[4]["series"][0]["values"] == [
        ["cpu,host=a,region=west"],
        ["cpu,host=b,region=east"],
    ]
    assert results[5]["series"][0]["values"] == [[3]]


def test_query_influxql_endpoint(server: RunningServer, db: str) -> None:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_influxql",
        params={"db": "iql", "q": "SELECT last(usage) FROM cpu GROUP BY host", "format": "json"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == [
        {"iox::measurement": "cpu", "time": "1970-01-01T00:00:12", "host": "a", "last": 3.5},
        {"iox::measurement": "cpu", "time": "1970-01-01T00:00:02", "host": "b", "last": 2.5},
    ]


def test_influxdb_v1_python_client_and_select_into(server: RunningServer, db: str) -> None:
    from influxdb import InfluxDBClient

    host, port = server.http_url.split("//")[1].split(":")
    client = InfluxDBClient(host, int(port), database="iql")
    points = list(client.query("SELECT count(usage) FROM cpu GROUP BY host").get_points())
    assert [p["count"] for p in points] == [2, 1]
    client.create_database("iql_new")
    assert {"name": "iql_new"} in client.get_list_database()
    client.query("SELECT max(usage) AS peak INTO cpu_peak FROM cpu GROUP BY host")
    try:
        rows = list(client.query("SELECT peak FROM cpu_peak GROUP BY host").get_points())
        assert sorted(r["peak"] for r in rows) == [2.5, 3.5]
    finally:  # the module's other tests list the measurements of "iql"
        client.query("DROP MEASUREMENT cpu_peak", method="POST")
        client.close()


def test_influx_shell(server: RunningServer, db: str) -> None:
    if shutil.which("influx") is None:
        pytest.skip("Debian's influx shell is not installed (apt-get install influxdb-client)")
    host, port = server.http_url.split("//")[1].split(":")
    out = subprocess.run(
        [
            "influx",
            "-host",
            host,
            "-port",
            port,
            "-database",
            "iql",
            "-execute",
            "SELECT usage FROM cpu WHERE host = 'b'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "name: cpu" in out and "2.5" in out


def test_influxdb3_python_influxql_over_flight(server: RunningServer, db: str) -> None:
    from influxdb_client_3 import InfluxDBClient3

    port = server.flight_uri.rsplit(":", 1)[1]
    client = InfluxDBClient3(host=f"http://127.0.0.1:{port}", database="iql", token="ignored")
    table = client.query("SELECT sum(n) FROM cpu GROUP BY region", language="influxql")
    client.close()
    rows = table.to_pylist()
    assert [(r["region"], r["sum"]) for r in rows] == [("east", 4), ("west", 8)]
    assert rows[0]["iox::measurement"] == "cpu"


def test_sample_count_and_membership(server: RunningServer, db: str) -> None:
    rows = {(1_000_000_000, 1.5), (12_000_000_000, 3.5)}  # host a's points
    for n, expected in ((1, 1), (2, 2), (5, 2)):
        reply = query(
            server, f"SELECT sample(usage, {n}) FROM cpu WHERE host = 'a'", epoch="ns"
        ).json()
        values = reply["results"][0]["series"][0]["values"]
        assert len(values) == expected
        assert {tuple(v) for v in values} <= rows
        assert values == sorted(values)  # in time order
    reply = query(server, "SELECT sample(usage, 1) FROM cpu GROUP BY host", epoch="ns").json()
    series = reply["results"][0]["series"]
    assert [s["tags"]["host"] for s in series] == ["a", "b"]
    assert series[1]["values"] == [[2_000_000_000, 2.5]]
    assert tuple(series[0]["values"][0]) in rows
    reply = query(server, "SELECT sample(usage, 0) FROM cpu").json()
    assert "error" in json.dumps(reply)


def test_integral_trapezoids_and_units(server: RunningServer, db: str) -> None:
    # host a: 1.5 at 1s, 3.5 at 12s: (1.5 + 3.5) / 2 * 11 s = 27.5
    reply = query(server, "SELECT integral(usage) FROM cpu WHERE host = 'a'", epoch="s").json()
    assert reply["results"][0]["series"][0]["values"] == [[0, 27.5]]
    reply = query(server, "SELECT integral(usage, 1m) FROM cpu WHERE host = 'a'").json()
    assert reply["results"][0]["series"][0]["values"][0][1] == pytest.approx(27.5 / 60)
    # GROUP BY time(10s): cut at 10s at the interpolated value 1.5 + 2 * 9 / 11
    q = "SELECT integral(usage) FROM cpu WHERE host = 'a' AND time >= 0 AND time < 20s "
    reply = query(server, q + "GROUP BY time(10s)", epoch="s").json()
    middle = 1.5 + 2 * 9 / 11
    (first, second) = reply["results"][0]["series"][0]["values"]
    assert first == [0, pytest.approx((1.5 + middle) / 2 * 9)]
    assert second == [10, pytest.approx((middle + 3.5) / 2 * 2)]


def test_tz_buckets_and_offsets(server: RunningServer, db: str) -> None:
    q = (
        "SELECT count(usage) FROM cpu WHERE time >= '1970-01-01T00:00:00Z' "
        "AND time < '1970-01-02T00:00:00Z' GROUP BY time(1d) tz('Europe/Paris')"
    )
    values = query(server, q).json()["results"][0]["series"][0]["values"]
    # Paris midnight is 23:00 UTC the day before: buckets start there, printed with +01:00
    assert values == [["1970-01-01T00:00:00+01:00", 3], ["1970-01-02T00:00:00+01:00", 0]]
    values = query(server, q, epoch="s").json()["results"][0]["series"][0]["values"]
    assert values == [[-3600, 3], [82800, 0]]
    reply = query(server, "SELECT usage FROM cpu WHERE host = 'b' tz('Europe/Paris')").json()
    assert reply["results"][0]["series"][0]["values"] == [["1970-01-01T01:00:02+01:00", 2.5]]
    reply = query(server, "SELECT usage FROM cpu tz('Mars/Olympus')").json()
    assert "unable to find time zone" in reply["results"][0]["error"]
