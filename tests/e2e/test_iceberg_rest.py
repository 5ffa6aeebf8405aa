"""The Iceberg REST catalog under /iceberg, through PyIceberg's stock REST client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
import requests
from pyiceberg.catalog import load_catalog
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError, UnauthorizedError

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.tokens import bearer, bootstrap_admin, grant

T0 = 1_700_000_000_000_000_000
_TIMEOUT = 60


@dataclass(frozen=True)
class Env:
    server: RunningServer
    admin: str
    reader_a: str  # may read database "a" only


def _post(
    url: str, path: str, token: str, params: dict[str, str] | None = None, data: str = ""
) -> None:
    reply = requests.post(
        f"{url}{path}", params=params, data=data, headers=bearer(token), timeout=_TIMEOUT
    )
    assert reply.status_code in (200, 204), reply.text


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    server = start_server(tmp_path_factory.mktemp("iceberg") / "data", "--auth", "required")
    try:
        url = server.http_url
        admin = bootstrap_admin(url)
        cpu = [
            f"cpu,host=h{i % 3},region=r{i % 2} usage={i}.5,n={i}i {T0 + i * 1_000_001}"
            for i in range(60)
        ]
        mem = [
            f"mem,host=h{i % 2} free={i * 10}i,ok={str(i % 2 == 0).lower()} {T0 + i}"
            for i in range(25)
        ]
        _post(url, "/api/v3/write_lp", admin, params={"db": "a"}, data="\n".join(cpu + mem))
        _post(url, "/api/v3/write_lp", admin, params={"db": "b"}, data=f"secret,k=v x=1 {T0}")
        _post(url, "/api/v3/persist", admin)
        yield Env(server, admin, grant(url, admin, "reader-a", "a", ["read"]))
    finally:
        server.stop()


def _catalog(env: Env, token: str) -> RestCatalog:
    catalog = load_catalog("iox", type="rest", uri=f"{env.server.http_url}/iceberg", token=token)
    assert isinstance(catalog, RestCatalog)
    return catalog


def _sql(env: Env, db: str, sql: str) -> pa.Table:
    reply = requests.get(
        f"{env.server.http_url}/api/v3/query_sql",
        params={"db": db, "q": sql, "format": "json"},
        headers=bearer(env.admin),
        timeout=_TIMEOUT,
    )
    assert reply.status_code == 200, reply.text
    return pa.Table.from_pylist(reply.json())


def test_pyiceberg_lists_loads_and_scans_every_table_as_sql_answers(env: Env) -> None:
    catalog = _catalog(env, env.admin)
    assert sorted(catalog.list_namespaces()) == [("a",), ("b",)]
    assert sorted(catalog.list_tables("a")) == [("a", "cpu"), ("a", "mem")]
    assert catalog.namespace_exists("a") and catalog.table_exists(("a", "cpu"))
    for table_name in ("cpu", "mem"):
        table = catalog.load_table(("a", table_name))
        scanned = table.scan().to_arrow()
        columns = [c for c in scanned.column_names if c not in ("time", "time_ns_remainder")]
        # Exact nanoseconds outside flight-iox: time (µs) * 1000 + time_ns_remainder.
        nanos = pa.compute.add(
            pa.compute.multiply(scanned.column("time").cast(pa.int64()), 1000),
            scanned.column("time_ns_remainder").cast(pa.int64()),
        )
        ours = scanned.select(columns).append_column("t", nanos).to_pylist()
        listed = ", ".join(f'"{c}"' for c in columns)
        expected = _sql(env, "a", f"SELECT {listed}, CAST(time AS BIGINT) AS t FROM {table_name}")
        key = lambda row: row["t"]  # noqa: E731
        assert sorted(ours, key=key) == sorted(expected.to_pylist(), key=key)
        assert len(ours) == {"cpu": 60, "mem": 25}[table_name]


def test_load_table_answers_the_current_metadata_file(env: Env) -> None:
    reply = requests.get(
        f"{env.server.http_url}/iceberg/v1/namespaces/a/tables/cpu",
        headers=bearer(env.admin),
        timeout=_TIMEOUT,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    location = body["metadata-location"]
    assert location.endswith(".metadata.json")
    with open(location.removeprefix("file://"), "rb") as file:
        assert body["metadata"] == json.load(file)
    assert body["config"] == {}  # a local warehouse needs no FileIO settings


def test_a_token_sees_only_the_databases_it_may_read(env: Env) -> None:
    catalog = _catalog(env, env.reader_a)
    assert catalog.list_namespaces() == [("a",)]
    assert catalog.load_table(("a", "cpu")).scan().to_arrow().num_rows == 60
    with pytest.raises(NoSuchNamespaceError):
        catalog.list_tables("b")
    with pytest.raises((NoSuchTableError, NoSuchNamespaceError)):
        catalog.load_table(("b", "secret"))
    assert not catalog.namespace_exists("b") and not catalog.table_exists(("b", "secret"))
    # Forbidden and unknown answer the same: a token learns no names it may not read.
    url = f"{env.server.http_url}/iceberg/v1/namespaces"
    forbidden = requests.get(f"{url}/b/tables", headers=bearer(env.reader_a), timeout=_TIMEOUT)
    unknown = requests.get(f"{url}/zz/tables", headers=bearer(env.reader_a), timeout=_TIMEOUT)
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json()["error"]["type"] == "NoSuchNamespaceException"
    assert "secret" not in forbidden.text


def test_no_token_is_401_and_writes_are_405_in_the_iceberg_error_shape(env: Env) -> None:
    url = f"{env.server.http_url}/iceberg/v1"
    missing = requests.get(f"{url}/namespaces", timeout=_TIMEOUT)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "NotAuthorizedException"
    with pytest.raises(UnauthorizedError):
        load_catalog("iox", type="rest", uri=f"{env.server.http_url}/iceberg", token="nope")
    writes = [
        ("POST", "/namespaces", {"namespace": ["c"]}),
        ("DELETE", "/namespaces/a", None),
        ("POST", "/namespaces/a/tables", {"name": "t"}),
        ("POST", "/namespaces/a/tables/cpu", {"updates": []}),
        ("DELETE", "/namespaces/a/tables/cpu", None),
        ("POST", "/tables/rename", {}),
        ("POST", "/transactions/commit", {}),
    ]
    for method, path, body in writes:
        reply = requests.request(
            method, f"{url}{path}", json=body, headers=bearer(env.admin), timeout=_TIMEOUT
        )
        assert reply.status_code == 405, (method, path, reply.text)
        assert reply.json()["error"]["code"] == 405
    assert sorted(_catalog(env, env.admin).list_tables("a")) == [("a", "cpu"), ("a", "mem")]


def test_s3_load_table_config_vends_keys_only_when_asked(tmp_path: Path) -> None:
    from flight_iox.http.iceberg_rest import table_config
    from iox_catalog import CatalogConfig
    from iox_catalog.object_store import ObjectStoreConfig, S3Credentials

    keys = S3Credentials("AKIA", "shh")
    store = ObjectStoreConfig(
        "s3://b/w", endpoint="http://127.0.0.1:9", allow_http=True, credentials=keys
    )
    config = CatalogConfig(store, uri=f"sqlite:///{tmp_path}/c.db")
    shown = table_config(config, vend_credentials=False)
    assert shown == {
        "s3.region": "us-east-1",
        "client.region": "us-east-1",
        "s3.endpoint": "http://127.0.0.1:9",
        "s3.path-style-access": "true",
    }
    vended = table_config(config, vend_credentials=True)
    assert vended["s3.access-key-id"] == "AKIA" and vended["s3.secret-access-key"] == "shh"
