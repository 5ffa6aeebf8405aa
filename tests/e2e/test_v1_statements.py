"""The v1 statements clients send, through ``/query`` with the real v1 ``influxdb`` client
and Debian's ``influx`` shell, on a server with ``--auth required``: the client's user
name is ignored and its password is the token (``?u=&p=`` and Basic auth, as InfluxDB 3).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.tokens import bootstrap_admin, grant

S = 1_000_000_000
DATA = "\n".join(
    [
        *(f"cpu,host=a,region=west usage={i} {i * S}" for i in range(10)),
        *(f"cpu,host=b,region=east usage={i + 100} {i * S}" for i in range(10)),
        "mem,host=a free=1i 1000000000",
        "disk,host=a used=5i 1000000000",
    ]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    running = start_server(
        Path(tmp_path_factory.mktemp("v1")) / "data",
        "--no-persist-on-shutdown",
        "--auth",
        "required",
        "--cq-run-interval",
        "0",
    )
    try:
        yield running, bootstrap_admin(running.http_url)
    finally:
        running.stop()


def client(server: RunningServer, token: str, database: str) -> InfluxDBClient:
    """The v1 client as users configure it: a user name and the token as password."""
    url = urlparse(server.http_url)
    return InfluxDBClient(
        host=url.hostname, port=url.port, username="anyone", password=token, database=database
    )


@pytest.fixture
def db(server: tuple[RunningServer, str], request: pytest.FixtureRequest) -> InfluxDBClient:
    """A fresh database named after the test, holding ``DATA``, and an admin client on it."""
    running, admin = server
    name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    c = client(running, admin, name)
    c.create_database(name)
    reply = requests.post(
        f"{running.http_url}/write", params={"db": name, "u": "x", "p": admin}, data=DATA
    )
    assert reply.status_code == 204, reply.text
    return c


def points(c: InfluxDBClient, q: str) -> list[dict[str, object]]:
    return list(c.query(q, epoch="s").get_points())


def test_drop_measurement(db: InfluxDBClient) -> None:
    db.drop_measurement("mem")
    assert {m["name"] for m in db.get_list_measurements()} == {"cpu", "disk"}


def test_delete_series_by_measurement_and_tag(db: InfluxDBClient) -> None:
    db.delete_series(measurement="cpu", tags={"host": "a"})
    rows = points(db, "SELECT usage, host FROM cpu")
    assert {r["host"] for r in rows} == {"b"} and len(rows) == 10
    db.delete_series(tags={"host": "a"})  # every measurement
    assert points(db, "SELECT * FROM mem") == points(db, "SELECT * FROM disk") == []


def test_delete_with_time_and_tag_predicates(db: InfluxDBClient) -> None:
    db.query("DELETE FROM cpu WHERE time < 5s AND region = 'west'", method="POST")
    rows = points(db, "SELECT usage, host FROM cpu WHERE host = 'a'")
    assert [r["time"] for r in rows] == list(range(5, 10))
    assert len(points(db, "SELECT usage FROM cpu WHERE host = 'b'")) == 10


def test_retention_policies_map_to_the_database_retention(db: InfluxDBClient) -> None:
    name = db._database
    (policy,) = db.get_list_retention_policies(name)
    assert policy == {"name": "autogen", "duration": "0s", "shardGroupDuration": "168h0m0s",
                      "replicaN": 1, "default": True}  # fmt: skip
    db.alter_retention_policy("autogen", name, duration="3d")
    (policy,) = db.get_list_retention_policies(name)
    assert (policy["duration"], policy["shardGroupDuration"]) == ("72h0m0s", "24h0m0s")
    # A second, non-default policy cannot map onto the one retention period.
    with pytest.raises(InfluxDBClientError, match="one retention policy per database"):
        db.create_retention_policy("archive", "30d", 1, name)
    # A default one replaces it: its name and duration become the database's.
    db.create_retention_policy("one_week", "1w", 1, name, default=True, shard_duration="1d")
    (policy,) = db.get_list_retention_policies(name)
    assert (policy["name"], policy["duration"]) == ("one_week", "168h0m0s")
    response = requests.get(
        f"{_url(db)}/api/v3/configure/database", params={"p": _token(db)}, timeout=30
    )
    assert {"iox::database": name, "retention_period": "604800s"} in response.json()
    with pytest.raises(InfluxDBClientError, match="at least 1h0m0s"):
        db.alter_retention_policy("one_week", name, duration="30m")
    # Dropping the database's policy drops its data, as in 1.x, and leaves a fresh autogen.
    db.drop_retention_policy("one_week", name)
    assert db.get_list_measurements() == []
    (policy,) = db.get_list_retention_policies(name)
    assert (policy["name"], policy["duration"]) == ("autogen", "0s")
    db.drop_retention_policy("never_was", name)  # 1.x: dropping a missing policy succeeds


def test_show_users_is_empty(db: InfluxDBClient) -> None:
    assert db.get_list_users() == []


def test_continuous_query_methods(db: InfluxDBClient) -> None:
    name = db._database
    select = 'SELECT mean("usage") INTO "cpu_1m" FROM "cpu" GROUP BY time(1m), *'
    # The client sends CREATE/DROP CONTINUOUS QUERY with GET, which flight-iox refuses for
    # every statement that changes something (1.x only warns): send them with POST.
    with pytest.raises(InfluxDBClientError, match="send it with POST"):
        db.create_continuous_query("per_minute", select, name)
    text = f'CREATE CONTINUOUS QUERY "per_minute" ON "{name}" RESAMPLE EVERY 2m FOR 10m'
    db.query(f"{text} BEGIN {select} END", method="POST")
    listed = next(d[name] for d in db.get_list_continuous_queries() if name in d)
    assert [q["name"] for q in listed] == ["per_minute"]
    assert "RESAMPLE EVERY" in listed[0]["query"] and select in listed[0]["query"]
    db.query(f'DROP CONTINUOUS QUERY "per_minute" ON "{name}"', method="POST")
    assert next(d[name] for d in db.get_list_continuous_queries() if name in d) == []


def test_a_read_token_changes_nothing(
    server: tuple[RunningServer, str], db: InfluxDBClient
) -> None:
    running, admin = server
    name = db._database
    reader = client(running, grant(running.http_url, admin, f"reader_{name}", name, ["read"]), name)
    for attempt in (
        lambda: reader.drop_measurement("cpu"),
        lambda: reader.delete_series(measurement="cpu"),
        lambda: reader.query("DELETE FROM cpu WHERE time < 5s", method="POST"),
        lambda: reader.alter_retention_policy("autogen", name, duration="1h"),
        lambda: reader.drop_retention_policy("autogen", name),
        lambda: reader.query(
            f'CREATE CONTINUOUS QUERY c ON "{name}" BEGIN SELECT count(usage) INTO x FROM cpu '
            "GROUP BY time(1m) END",
            method="POST",
        ),
        lambda: reader.get_list_users(),
    ):
        with pytest.raises(InfluxDBClientError, match=r"may not|not an admin"):
            attempt()
    assert len(points(db, "SELECT usage FROM cpu")) == 20
    assert db.get_list_retention_policies(name)[0]["duration"] == "0s"


def test_a_wrong_password_is_401(server: tuple[RunningServer, str]) -> None:
    running, _ = server
    with pytest.raises(InfluxDBClientError) as error:
        client(running, "not-a-token", "x").get_list_database()
    assert error.value.code == 401


@pytest.mark.skipif(shutil.which("influx") is None, reason="Debian's influx shell is missing")
def test_the_influx_shell_shows_users(server: tuple[RunningServer, str]) -> None:
    running, admin = server
    url = urlparse(running.http_url)
    shell = ["influx", "-host", str(url.hostname), "-port", str(url.port),
             "-username", "admin", "-password", admin]  # fmt: skip
    out = subprocess.run(
        [*shell, "-execute", "SHOW USERS"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["user", "admin", "----", "-----"]


def _url(c: InfluxDBClient) -> str:
    return str(c._baseurl)


def _token(c: InfluxDBClient) -> str:
    return str(c._password)
