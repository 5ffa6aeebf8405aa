"""InfluxDB 2's management API through influxdb-client, unchanged: buckets, orgs, delete,
health, ready, ping, and writes to ``db/rp`` buckets; plus the JSON 404 and v1's ping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import influxdb
import pytest
import requests
from influxdb_client import BucketRetentionRules, InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from flight_iox.launcher import RunningServer

T0 = 1_700_000_000_000_000_000
ORG = "my-org"  # whatever a client is configured with: the one org answers to it


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[InfluxDBClient]:
    with InfluxDBClient(url=server.http_url, token="unused", org=ORG, timeout=30_000) as c:
        yield c


def sql(server: RunningServer, db: str, q: str) -> list[dict[str, object]]:
    answer = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": q}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_health_ready_ping_and_version(client: InfluxDBClient) -> None:
    with pytest.warns(DeprecationWarning):  # the client's own: health() is still used
        health = client.health()
    assert health.status == "pass" and health.name == "influxdb"
    assert client.ready().status == "ready"
    assert client.ping() is True
    assert client.version().startswith("3.0-flight-iox")


def test_ping_answers_v3_json_and_v1_clients_204(server: RunningServer) -> None:
    answer = requests.get(f"{server.http_url}/ping", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["version"] == answer.headers["X-Influxdb-Version"]
    host, port = server.http_url.split("://", 1)[1].split(":")
    v1 = influxdb.InfluxDBClient(host=host, port=int(port), timeout=30)
    assert v1.ping() == answer.headers["X-Influxdb-Version"]  # demands 204
    shell = requests.get(
        f"{server.http_url}/ping", headers={"User-Agent": "InfluxDBShell/1.6.7~rc0"}, timeout=10
    )
    assert shell.status_code == 204 and shell.content == b""


def test_orgs(client: InfluxDBClient) -> None:
    orgs = client.organizations_api().find_organizations()
    assert len(orgs) == 1
    found = client.organizations_api().find_organizations(org=ORG)
    assert [o.id for o in found] == [orgs[0].id]
    assert client.organizations_api().find_organization(orgs[0].id).name == orgs[0].name
    with pytest.raises(ApiException) as missing:
        client.organizations_api().find_organization("00000000000000ff")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as refused:
        client.organizations_api().create_organization(name="second")
    assert refused.value.status == 422


def test_buckets_map_to_databases(client: InfluxDBClient, server: RunningServer) -> None:
    api = client.buckets_api()
    rule = BucketRetentionRules(type="expire", every_seconds=7 * 86_400)
    made = api.create_bucket(bucket_name="v2b", retention_rules=rule, org=ORG)
    assert made.name == "v2b" and made.retention_rules[0].every_seconds == 7 * 86_400
    databases = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=10).json()
    assert {"iox::database": "v2b", "retention_period": "604800s"} in databases
    found = api.find_bucket_by_name("v2b")
    assert found is not None and found.id == made.id
    assert api.find_bucket_by_id(made.id).name == "v2b"
    assert "v2b" in [b.name for b in api.find_buckets(limit=100).buckets]
    with pytest.raises(ApiException) as again:
        api.create_bucket(bucket_name="v2b", org=ORG)
    assert again.value.status == 409
    found.retention_rules = []
    assert api.update_bucket(found).retention_rules == []
    databases = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=10).json()
    assert {"iox::database": "v2b", "retention_period": None} in databases
    api.delete_bucket(made)
    assert api.find_bucket_by_name("v2b") is None
    with pytest.raises(ApiException) as gone:
        api.delete_bucket(made.id)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as bad:
        api.create_bucket(bucket_name="no spaces", org=ORG)
    assert bad.value.status == 400


def test_bucket_pages(client: InfluxDBClient) -> None:
    api = client.buckets_api()
    for name in ("pg_a", "pg_b", "pg_c"):
        api.create_bucket(bucket_name=name, org=ORG)
    names = [b.name for b in api.find_buckets_iter(limit=1) if b.name.startswith("pg_")]
    assert names == ["pg_a", "pg_b", "pg_c"]
    page = api.find_buckets(limit=2, offset=1).buckets
    assert len(page) == 2


def test_write_to_db_rp_bucket_and_delete(client: InfluxDBClient, server: RunningServer) -> None:
    write = client.write_api(write_options=SYNCHRONOUS)
    lines = [
        f"cpu,host=a usage=1 {T0}",
        f"cpu,host=b usage=2 {T0}",
        f"cpu usage=3 {T0 + 1}",
        f"mem,host=a used=4 {T0}",
        f"cpu,host=a usage=5 {T0 + 10**12}",
    ]
    write.write(bucket="v2del/autogen", record=lines)
    assert sql(server, "v2del", "SELECT count(*) AS n FROM cpu") == [{"n": 4}]
    start = datetime.fromtimestamp(T0 / 1e9 - 1, UTC)
    stop = datetime.fromtimestamp(T0 / 1e9 + 1, UTC)
    deletes = client.delete_api()
    deletes.delete(start, stop, '_measurement="cpu" AND host="a"', bucket="v2del", org=ORG)
    rows = sql(server, "v2del", "SELECT host, usage FROM cpu ORDER BY usage")
    assert rows == [
        {"host": "b", "usage": 2.0},
        {"host": None, "usage": 3.0},
        {"host": "a", "usage": 5.0},  # outside the time range
    ]
    assert sql(server, "v2del", "SELECT count(*) AS n FROM mem") == [{"n": 1}]
    # A missing tag is "": host="" matches the row without host, in every table.
    deletes.delete(start, stop, 'host=""', bucket="v2del/autogen", org=ORG)
    assert sql(server, "v2del", "SELECT count(*) AS n FROM cpu") == [{"n": 2}]
    # No predicate: every row of every table in the range.
    deletes.delete(start, stop, "", bucket="v2del", org=ORG)
    assert sql(server, "v2del", "SELECT count(*) AS n FROM cpu") == [{"n": 1}]
    assert sql(server, "v2del", "SELECT count(*) AS n FROM mem") == [{"n": 0}]


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ('host="a" OR host="b"', "OR is not supported"),
        ("host=a", "must be quoted"),
        ('usage="1"', "is a field"),
        ('host ~ "a"', "unexpected '~'"),
    ],
)
def test_bad_delete_predicates(server: RunningServer, predicate: str, message: str) -> None:
    requests.post(
        f"{server.http_url}/api/v2/write",
        params={"bucket": "v2bad"},
        data=f"cpu,host=a usage=1 {T0}",
    ).raise_for_status()
    body = {"start": "1970-01-01T00:00:00Z", "stop": "2100-01-01T00:00:00Z", "predicate": predicate}
    answer = requests.post(
        f"{server.http_url}/api/v2/delete", params={"bucket": "v2bad"}, json=body, timeout=30
    )
    assert answer.status_code == 400 and message in answer.json()["message"], answer.text
    assert sql(server, "v2bad", "SELECT count(*) AS n FROM cpu") == [{"n": 1}]


def test_unknown_path_is_a_json_404(server: RunningServer) -> None:
    answer = requests.post(f"{server.http_url}/api/v2/nothing/here", timeout=10)
    assert answer.status_code == 404
    body = answer.json()
    assert body["path"] == "/api/v2/nothing/here" and "docs/http-api.md" in body["error"]
