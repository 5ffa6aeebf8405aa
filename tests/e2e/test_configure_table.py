"""``POST|DELETE /api/v3/configure/table`` and ``flight-iox create|delete table``, end to end.

A real server with auth: tables created over HTTP and with the CLI (InfluxDB 3's body and
verbs), written with line protocol (a wrong field type rejected line by line), read with
Flight SQL (empty, then with rows), dropped; bad bodies and tokens without the permission
refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server
from tests.e2e.tokens import bearer as auth
from tests.e2e.tokens import bootstrap_admin, grant

DB = "tables_e2e"
NOW = time.time_ns()


@dataclass
class Served:
    server: RunningServer
    admin: str
    creator: str  # create + read + write on DB
    deleter: str  # delete + read on DB
    reader: str  # read on DB


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("tables") / "data", "--auth", "required")
    admin = bootstrap_admin(server.http_url)

    def make(name: str, actions: list[str]) -> str:
        return grant(server.http_url, admin, name, DB, actions)

    created = requests.post(
        f"{server.http_url}/api/v3/configure/database",
        json={"db": DB},
        headers=auth(admin),
        timeout=30,
    )
    assert created.status_code in (200, 201), created.text
    state = Served(
        server,
        admin,
        make("creator", ["read", "write", "create"]),
        make("deleter", ["read", "delete"]),
        make("reader", ["read"]),
    )
    yield state
    server.stop()


def configure(
    served: Served, body: dict[str, object], token: str, method: str = "POST"
) -> requests.Response:
    return requests.request(
        method,
        f"{served.server.http_url}/api/v3/configure/table",
        json=body,
        headers=auth(token),
        timeout=60,
    )


def write(served: Served, lines: str) -> requests.Response:
    return requests.post(
        f"{served.server.http_url}/api/v3/write_lp",
        params={"db": DB, "precision": "nanosecond"},
        data=lines,
        headers=auth(served.creator),
        timeout=30,
    )


def query(served: Served, sql: str) -> pa.Table:
    options = flight.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {served.reader}".encode()), (b"database", DB.encode())]
    )
    client = flight.connect(served.server.flight_uri)
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandStatementQuery(query=sql)))
    info = client.get_flight_info(descriptor, options)
    return client.do_get(info.endpoints[0].ticket, options).read_all()


def cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flight_iox", *args]
    common = ["--host", served.server.http_url, "--token", served.admin]
    return subprocess.run(
        [*command, *common], capture_output=True, text=True, timeout=120, check=False
    )


SENSORS = {
    "db": DB,
    "table": "sensors",
    "tags": ["room", "floor"],
    "fields": [
        {"name": "temp", "type": "float64"},
        {"name": "count", "type": "int64"},
        {"name": "serial", "type": "uint64"},
        {"name": "label", "type": "utf8"},
        {"name": "ok", "type": "bool"},
    ],
}


def test_create_write_query_drop_over_http(served: Served) -> None:
    reply = configure(served, SENSORS, served.creator)
    assert reply.status_code == 201, reply.text
    shown = reply.json()  # the stored schema: columns in the table's (sorted) order
    assert shown["tags"] == sorted(SENSORS["tags"])  # type: ignore[type-var]
    assert shown["fields"] == sorted(SENSORS["fields"], key=lambda f: f["name"])  # type: ignore[arg-type,index]
    assert (shown["db"], shown["table"]) == (DB, "sensors")
    assert configure(served, SENSORS, served.creator).status_code == 409

    empty = query(served, "SELECT * FROM sensors")
    assert empty.num_rows == 0
    types = {f.name: f.type for f in empty.schema}
    assert types["temp"] == pa.float64() and types["count"] == pa.int64()
    assert types["serial"] == pa.uint64() and types["ok"] == pa.bool_()
    assert pa.types.is_timestamp(types["time"])

    lines = "\n".join(
        [
            f'sensors,room=a,floor=1 temp=21.5,count=3i,serial=7u,label="x",ok=true {NOW}',
            f"sensors,room=b,floor=1 temp=1i {NOW}",  # int into a float64 field
            f"sensors,room=c,floor=2 temp=19.0,ok=false {NOW + 1}",
        ]
    )
    reply = write(served, lines)
    assert reply.status_code == 400, reply.text
    rejected = reply.json()["data"]
    assert [e["line_number"] for e in rejected] == [2]
    assert "temp" in rejected[0]["error_message"]

    rows = query(served, "SELECT room, temp, count, ok FROM sensors ORDER BY room")
    assert rows.to_pylist() == [
        {"room": "a", "temp": 21.5, "count": 3, "ok": True},
        {"room": "c", "temp": 19.0, "count": None, "ok": False},
    ]

    assert (
        configure(served, {"db": DB, "table": "sensors"}, served.reader, "DELETE").status_code
        == 403
    )
    gone = configure(served, {"db": DB, "table": "sensors"}, served.deleter, "DELETE")
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"db": DB, "table": "sensors", "deleted": True}
    with pytest.raises(pa.ArrowInvalid, match=r"table .*sensors.* not found"):
        query(served, "SELECT * FROM sensors")
    again = configure(served, {"db": DB, "table": "sensors"}, served.deleter, "DELETE")
    assert again.status_code == 404, again.text


def test_cli_verbs(served: Served) -> None:
    made = cli(
        served, "create", "table", "--database", DB, "--tags", "host,dc",
        "--fields", "usage:float64,up:bool", "cli_cpu",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "db": DB,
        "table": "cli_cpu",
        "tags": ["dc", "host"],
        "fields": [{"name": "up", "type": "bool"}, {"name": "usage", "type": "float64"}],
        "partition_by": ["day(time)"],
    }
    assert write(served, f"cli_cpu,host=h,dc=x usage=0.5,up=true {NOW}").status_code == 204
    assert query(served, "SELECT host, usage FROM cli_cpu").to_pylist() == [
        {"host": "h", "usage": 0.5}
    ]
    bad = cli(served, "create", "table", "-d", DB, "--fields", "x:decimal", "cli_bad")
    assert bad.returncode != 0 and "fields[0].type" in bad.stderr
    gone = cli(served, "delete", "table", "--database", DB, "cli_cpu")
    assert gone.returncode == 0, gone.stderr
    with pytest.raises(pa.ArrowInvalid, match=r"table .*cli_cpu.* not found"):
        query(served, "SELECT * FROM cli_cpu")
    again = cli(served, "delete", "table", "-d", DB, "cli_cpu")
    assert again.returncode != 0 and "404" in again.stderr


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"table": "t", "tags": []}, "'db'"),
        ({"db": DB, "tags": []}, "'table'"),
        ({"db": DB, "table": "t", "tags": "a,b"}, "'tags'"),
        ({"db": DB, "table": "t", "tags": [1]}, "'tags'"),
        ({"db": DB, "table": "t", "fields": {"a": "int64"}}, "'fields'"),
        ({"db": DB, "table": "t", "fields": [{"type": "int64"}]}, "'fields[0]'"),
        ({"db": DB, "table": "t", "fields": [{"name": "a", "type": "int"}]}, "'fields[0].type'"),
        ({"db": DB, "table": "t", "tags": ["a"], "fields": [{"name": "a", "type": "bool"}]}, "'a'"),
        ({"db": DB, "table": "t", "tags": ["time"]}, "'time'"),
        ({"db": DB, "table": "bad\tname", "tags": []}, "table name"),
        ({"db": DB, "table": "t", "tags": ["bad\ncol"]}, "column name"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    served: Served, body: dict[str, object], named: str
) -> None:
    reply = configure(served, body, served.admin)
    assert reply.status_code == 400, reply.text
    assert named in reply.json()["error"]


def test_permissions_and_missing_database(served: Served) -> None:
    body = {"db": DB, "table": "denied", "tags": ["a"]}
    assert configure(served, body, served.reader).status_code == 403
    assert configure(served, body, served.deleter).status_code == 403
    missing = configure(served, {**body, "db": "tables_e2e_none"}, served.admin)
    assert missing.status_code == 404, missing.text
    dropped = configure(served, {"db": "tables_e2e_none", "table": "x"}, served.admin, "DELETE")
    assert dropped.status_code == 404, dropped.text
    # Partitioning stays admin only on the same path.
    params = {"db": DB, "table": "denied"}
    url = f"{served.server.http_url}/api/v3/configure/table"
    reply = requests.get(url, params=params, headers=auth(served.creator), timeout=30)
    assert reply.status_code == 403
