"""Configured last-value and distinct-value caches, end to end (InfluxDB 3's API and SQL).

A real server with auth: caches configured over HTTP, read with ``last_cache()`` and
``distinct_cache()`` over Flight SQL, listed in the system tables, kept across a restart,
deleted; bad requests and tokens without ``create`` refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server
from tests.e2e.tokens import bearer as auth
from tests.e2e.tokens import bootstrap_admin, grant

DB = "caches_e2e"
NOW = time.time_ns()
SECOND = 1_000_000_000


@dataclass
class Served:
    server: RunningServer
    data_dir: Path
    admin: str
    creator: str  # create + read on DB
    reader: str  # read on DB


def _lines() -> str:
    lines = []
    for i in range(5):  # host a newest, then b; c only three hours ago
        lines.append(f"cpu,host=a,region=us usage={i},idle={10 + i} {NOW - (5 - i) * SECOND}")
        lines.append(f"cpu,host=b,region=eu usage={100 + i} {NOW - (5 - i) * SECOND - SECOND}")
    lines.append(f"cpu,host=c,region=us usage=9 {NOW - 3 * 3600 * SECOND}")
    lines.extend(f"mem,host={h} used={i} {NOW - i * SECOND}" for i, h in enumerate("xyx"))
    lines.extend(f"disk,host={h} free={i} {NOW - i * SECOND}" for i, h in enumerate("pqp"))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("caches") / "data"
    server = start_server(data_dir, "--auth", "required")
    admin = bootstrap_admin(server.http_url)

    def make(name: str, actions: list[str]) -> str:
        return grant(server.http_url, admin, name, DB, actions)

    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp",
        params={"db": DB, "precision": "nanosecond"},
        data=_lines(),
        headers=auth(admin),
        timeout=30,
    )
    assert reply.status_code == 204, reply.text
    state = Served(
        server, data_dir, admin, make("creator", ["read", "create"]), make("r", ["read"])
    )
    for kind, body in (
        ("last_cache", LAST),
        ("distinct_cache", DISTINCT),
        ("distinct_cache", DISTINCT_ONE),
    ):
        reply = configure(state, kind, body, admin)
        assert reply.status_code == 201, reply.text
    yield state
    state.server.stop()


def configure(
    served: Served,
    kind: str,
    body: dict[str, object],
    token: str | None = None,
    method: str = "POST",
) -> requests.Response:
    return requests.request(
        method,
        f"{served.server.http_url}/api/v3/configure/{kind}",
        json=body,
        headers=auth(token or served.creator),
        timeout=30,
    )


def query(served: Served, sql: str, token: str | None = None) -> pa.Table:
    options = flight.FlightCallOptions(
        headers=[
            (b"authorization", f"Bearer {token or served.reader}".encode()),
            (b"database", DB.encode()),
        ]
    )
    client = flight.connect(served.server.flight_uri)
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandStatementQuery(query=sql)))
    info = client.get_flight_info(descriptor, options)
    return client.do_get(info.endpoints[0].ticket, options).read_all()


LAST = {
    "db": DB,
    "table": "cpu",
    "name": "cpu_last",
    "key_columns": ["host"],
    "value_columns": ["usage"],
    "count": 3,
    "ttl": 3600,
}
DISTINCT = {"db": DB, "table": "cpu", "name": "regions", "columns": ["region", "host"]}
DISTINCT_ONE = {**DISTINCT, "name": "newest", "max_cardinality": 1, "max_age": "1d"}


def test_create_answers_the_configuration(served: Served) -> None:
    body = {"db": DB, "table": "cpu", "name": "by_creator", "count": 2, "ttl": "10m"}
    reply = configure(served, "last_cache", body)
    assert reply.status_code == 201, reply.text
    assert reply.json() == {
        "db": DB,
        "table": "cpu",
        "name": "by_creator",
        "key_columns": ["host", "region"],  # the tags
        "value_columns": ["idle", "time", "usage"],  # the rest, time included
        "count": 2,
        "ttl": 600,
    }
    delete = {"db": DB, "table": "cpu", "name": "by_creator"}
    assert configure(served, "last_cache", delete, method="DELETE").status_code == 200
    reply = configure(served, "distinct_cache", {"db": DB, "table": "cpu", "columns": "host"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["name"] == "cpu_host_distinct_cache"
    delete = {"db": DB, "table": "cpu", "name": "cpu_host_distinct_cache"}
    assert configure(served, "distinct_cache", delete, method="DELETE").status_code == 200


def test_last_cache_gives_count_rows_per_key_within_ttl(served: Served) -> None:
    got = query(served, "SELECT * FROM last_cache('cpu', 'cpu_last')")
    assert got.column_names == ["host", "usage", "time"]
    # c's only row is three hours old: past the one-hour ttl.
    assert [(r["host"], r["usage"]) for r in got.to_pylist()] == [
        ("a", 4.0),
        ("a", 3.0),
        ("a", 2.0),
        ("b", 104.0),
        ("b", 103.0),
        ("b", 102.0),
    ]
    # The table's only last cache also answers without its name.
    assert query(served, "SELECT * FROM last_cache('cpu')").equals(got)


def test_last_cache_follows_writes(served: Served) -> None:
    body = {"db": DB, "table": "mem", "name": "mem_last", "count": 2}
    assert configure(served, "last_cache", body).status_code == 201
    assert query(served, "SELECT host, used FROM last_cache('mem')").to_pylist() == [
        {"host": "x", "used": 0.0},
        {"host": "x", "used": 2.0},
        {"host": "y", "used": 1.0},
    ]
    reply = requests.post(
        f"{served.server.http_url}/api/v3/write_lp",
        params={"db": DB, "precision": "nanosecond"},
        data=f"mem,host=x used=42 {NOW + SECOND}",
        headers=auth(served.admin),
        timeout=30,
    )
    assert reply.status_code == 204
    got = query(served, "SELECT used FROM last_cache('mem', 'mem_last') WHERE host = 'x'")
    assert got.column("used").to_pylist() == [42.0, 0.0]


def test_distinct_cache_gives_the_hierarchy(served: Served) -> None:
    got = query(served, "SELECT * FROM distinct_cache('cpu', 'regions')")
    assert got.column_names == ["region", "host"]
    assert got.to_pylist() == [
        {"region": "eu", "host": "b"},
        {"region": "us", "host": "a"},
        {"region": "us", "host": "c"},
    ]
    # max_cardinality 1 keeps the most recently seen combination.
    newest = query(served, "SELECT * FROM distinct_cache('cpu', 'newest')")
    assert newest.to_pylist() == [{"region": "us", "host": "a"}]


def test_system_tables_list_the_caches(served: Served) -> None:
    last = query(served, "SELECT * FROM system.last_caches WHERE name = 'cpu_last'").to_pylist()
    assert last == [
        {
            "table": "cpu",
            "name": "cpu_last",
            "key_column_names": ["host"],
            "value_column_names": ["usage", "time"],
            "count": 3,
            "ttl": 3600,
        }
    ]
    distinct = query(
        served,
        "SELECT name, column_names, max_cardinality, max_age_seconds "
        "FROM system.distinct_caches ORDER BY name",
    ).to_pylist()
    assert distinct == [
        {
            "name": "newest",
            "column_names": ["region", "host"],
            "max_cardinality": 1,
            "max_age_seconds": 86400,
        },
        {
            "name": "regions",
            "column_names": ["region", "host"],
            "max_cardinality": 100000,
            "max_age_seconds": 86400,
        },
    ]


@pytest.mark.parametrize(
    ("kind", "body", "status", "named"),
    [
        ("last_cache", {"table": "cpu"}, 400, "'db'"),
        ("last_cache", {"db": DB}, 400, "'table'"),
        ("last_cache", {"db": DB, "table": "nope"}, 404, "nope"),
        ("last_cache", {"db": "no_such_db", "table": "cpu"}, 404, "no_such_db"),
        ("last_cache", {"db": DB, "table": "cpu", "key_columns": ["zone"]}, 400, "key_columns"),
        ("last_cache", {"db": DB, "table": "cpu", "key_columns": ["usage"]}, 400, "key_columns"),
        ("last_cache", {"db": DB, "table": "cpu", "value_columns": ["x"]}, 400, "value_columns"),
        ("last_cache", {"db": DB, "table": "cpu", "count": 11}, 400, "count"),
        ("last_cache", {"db": DB, "table": "cpu", "ttl": "soon"}, 400, "ttl"),
        ("last_cache", LAST, 409, "cpu_last"),
        ("distinct_cache", {"db": DB, "table": "cpu"}, 400, "columns"),
        ("distinct_cache", {**DISTINCT, "name": "x", "max_cardinality": 0}, 400, "max_cardinality"),
        ("distinct_cache", {**DISTINCT, "name": "x", "max_age": -1}, 400, "max_age"),
        ("distinct_cache", {**DISTINCT, "columns": ["time"]}, 400, "columns"),
    ],
)
def test_bad_requests_name_the_field(
    served: Served, kind: str, body: dict[str, object], status: int, named: str
) -> None:
    reply = configure(served, kind, body, served.admin)
    assert reply.status_code == status, reply.text
    assert named in reply.json()["error"]


def test_configuring_needs_create(served: Served) -> None:
    body = {**LAST, "name": "by_reader"}
    assert configure(served, "last_cache", body, served.reader).status_code == 403
    delete = {"db": DB, "table": "cpu", "name": "cpu_last"}
    assert configure(served, "last_cache", delete, served.reader, "DELETE").status_code == 403
    reply = requests.post(
        f"{served.server.http_url}/api/v3/configure/last_cache", json=body, timeout=30
    )
    assert reply.status_code == 401


def test_caches_survive_a_restart_and_delete_removes_them(served: Served) -> None:
    served.server.stop()
    served.server = start_server(served.data_dir, "--auth", "required")
    got = query(served, "SELECT host, usage FROM last_cache('cpu', 'cpu_last')")
    assert got.num_rows == 6
    assert query(served, "SELECT * FROM distinct_cache('cpu', 'regions')").num_rows == 3
    assert query(served, "SELECT count(*) AS n FROM system.distinct_caches").to_pylist() == [
        {"n": 2}
    ]

    body = {"db": DB, "table": "disk", "name": "temporary"}
    assert configure(served, "last_cache", body).status_code == 201
    assert query(served, "SELECT count(*) AS n FROM system.last_caches").to_pylist()[0]["n"] >= 2
    delete = {"db": DB, "table": "disk", "name": "temporary"}
    assert configure(served, "last_cache", delete, method="DELETE").status_code == 200
    assert configure(served, "last_cache", delete, method="DELETE").status_code == 404
    names = query(served, "SELECT name FROM system.last_caches").column("name").to_pylist()
    assert "temporary" not in names
    with pytest.raises(pa.ArrowInvalid, match="no cache 'temporary' on table"):
        query(served, "SELECT * FROM last_cache('disk', 'temporary')")
    # With no configured last cache left, last_cache('disk') is the latest row per series.
    series = query(served, "SELECT host, free FROM last_cache('disk') ORDER BY host")
    assert series.to_pylist() == [{"host": "p", "free": 0.0}, {"host": "q", "free": 1.0}]


def cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flight_iox", *args]
    common = ["--host", served.server.http_url, "--token", served.admin]
    return subprocess.run(
        [*command, *common], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_verbs(served: Served) -> None:
    made = cli(served, "create", "last_cache", "-d", DB, "-t", "disk", "--count", "2", "cli_lc")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["count"] == 2
    made = cli(served, "create", "distinct_cache", "-d", DB, "-t", "disk", "--columns", "host")
    assert made.returncode == 0, made.stderr
    shown = cli(served, "show", "system", "-d", DB, "table", "last_caches")
    assert "cli_lc" in {json.loads(line)["name"] for line in shown.stdout.splitlines()}
    tables = cli(served, "show", "tables", "-d", DB)
    assert {json.loads(line)["table_name"] for line in tables.stdout.splitlines()} >= {
        "cpu",
        "disk",
        "mem",
    }
    databases = cli(served, "show", "databases")
    assert DB in {json.loads(line)["iox::database"] for line in databases.stdout.splitlines()}
    for kind, name in (("last_cache", "cli_lc"), ("distinct_cache", "disk_host_distinct_cache")):
        gone = cli(served, "delete", kind, "-d", DB, "-t", "disk", name)
        assert gone.returncode == 0, gone.stderr
    again = cli(served, "delete", "last_cache", "-d", DB, "-t", "disk", "cli_lc")
    assert again.returncode != 0 and "404" in again.stderr
    created = cli(served, "create", "database", "caches_cli_db")
    assert created.returncode == 0, created.stderr
    assert cli(served, "delete", "database", "caches_cli_db").returncode == 0


def test_show_tag_values_reads_a_covering_distinct_cache(served: Served) -> None:
    def tag_values(q: str) -> list[object]:
        reply = requests.get(
            f"{served.server.http_url}/query",
            params={"db": DB, "q": q},
            headers=auth(served.reader),
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        series = reply.json()["results"][0].get("series", [])
        return [value for s in series for _, value in s["values"]]

    # cpu's caches on (region, host): 'newest' (first by name) holds one combination.
    assert tag_values('SHOW TAG VALUES FROM cpu WITH KEY = "host"') == ["a"]
    # A WHERE clause is not a question the cache answers: the table is read.
    where = 'SHOW TAG VALUES FROM cpu WITH KEY = "host" WHERE region =~ /.*/'
    assert tag_values(where) == ["a", "b", "c"]
    # No cache holds mem's tags: the table is read.
    assert tag_values('SHOW TAG VALUES FROM mem WITH KEY = "host"') == ["x", "y"]
