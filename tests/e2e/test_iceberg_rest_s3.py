"""The Iceberg REST catalog over an S3 warehouse (moto on loopback), with vended credentials.

The server persists to the bucket and runs with ``--iceberg-vend-credentials``; the reader
is PyIceberg with the stock REST settings (URI and token) and no S3 settings or keys of its
own: everything it needs to open the files comes in the load-table ``config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import requests
from pyiceberg.catalog import load_catalog

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.moto_s3 import ACCESS_KEY, SECRET_KEY, MotoS3, moto_s3, set_aws_env
from tests.e2e.tokens import bearer, bootstrap_admin, grant

__all__ = ["moto_s3"]  # the fixture, imported for pytest

T0 = 1_700_000_000_000_000_000
_TIMEOUT = 60
_AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_PROFILE")


@dataclass(frozen=True)
class Env:
    server: RunningServer
    admin: str
    reader: str  # may read database "s3db" only


@pytest.fixture(scope="module")
def env(moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with pytest.MonkeyPatch.context() as patch:
        set_aws_env(patch)  # the server's own keys, from the standard variables
        server = start_server(
            tmp_path_factory.mktemp("rest-s3") / "data",
            *moto_s3.flags(prefix="rest"),
            "--iceberg-vend-credentials",
            "--auth", "required",
            timeout=120,
        )  # fmt: skip
    try:
        url = server.http_url
        admin = bootstrap_admin(url)
        lines = [
            f"cpu,host=h{i % 4},region=r{i % 2} usage_user={i % 97}i,usage={i}.25 "
            f"{T0 + i * 1_000_000_007}"
            for i in range(200)
        ]
        for db in ("s3db", "other"):
            body, auth = "\n".join(lines), bearer(admin)
            reply = requests.post(f"{url}/api/v3/write_lp", params={"db": db}, data=body,
                                  headers=auth, timeout=_TIMEOUT)  # fmt: skip
            assert reply.status_code == 204, reply.text
        reply = requests.post(f"{url}/api/v3/persist", headers=bearer(admin), timeout=120)
        assert reply.status_code == 200, reply.text
        yield Env(server, admin, grant(url, admin, "reader-s3", "s3db", ["read"]))
    finally:
        server.stop()


@pytest.fixture
def no_keys_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's process has no AWS keys: only vended ones can open the files."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def _sql(env: Env, sql: str) -> list[dict]:
    reply = requests.get(
        f"{env.server.http_url}/api/v3/query_sql",
        params={"db": "s3db", "q": sql, "format": "json"},
        headers=bearer(env.admin),
        timeout=_TIMEOUT,
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json())


@pytest.mark.usefixtures("no_keys_here")
def test_pyiceberg_reads_the_s3_table_with_the_vended_config(env: Env, moto_s3: MotoS3) -> None:
    uri = f"{env.server.http_url}/iceberg"
    catalog = load_catalog("iox", type="rest", uri=uri, token=env.reader)
    assert catalog.list_namespaces() == [("s3db",)]
    table = catalog.load_table(("s3db", "cpu"))
    assert table.io.properties["s3.access-key-id"] == ACCESS_KEY
    assert table.io.properties["s3.secret-access-key"] == SECRET_KEY
    assert table.io.properties["s3.endpoint"] == moto_s3.endpoint
    files = [task.file.file_path for task in table.scan().plan_files()]
    assert files and all(f.startswith(f"s3://{moto_s3.bucket}/rest/") for f in files)
    scanned = table.scan().to_arrow()
    nanos = pc.add(
        pc.multiply(scanned.column("time").cast(pa.int64()), 1000),
        scanned.column("time_ns_remainder").cast(pa.int64()),
    )
    ours = scanned.select(["host", "region", "usage_user", "usage"]).append_column("t", nanos)
    expected = _sql(env, "SELECT host, region, usage_user, usage, CAST(time AS BIGINT) AS t "
                         "FROM cpu ORDER BY t")  # fmt: skip
    assert ours.sort_by("t").to_pylist() == expected
    assert len(expected) == 200
    # A filtered scan (pruned on the S3 manifests) answers as SQL does.
    hosts = table.scan(row_filter="host == 'h1'", selected_fields=("usage_user",)).to_arrow()
    total = _sql(env, "SELECT sum(usage_user) AS s FROM cpu WHERE host = 'h1'")[0]["s"]
    assert pc.sum(hosts.column("usage_user")).as_py() == total


def test_vended_keys_go_only_to_tokens_that_may_read_the_database(env: Env) -> None:
    url = f"{env.server.http_url}/iceberg/v1/namespaces"
    own = requests.get(f"{url}/s3db/tables/cpu", headers=bearer(env.reader), timeout=_TIMEOUT)
    assert own.status_code == 200 and own.json()["config"]["s3.access-key-id"] == ACCESS_KEY
    for path in ("other/tables/cpu", "other"):
        reply = requests.get(f"{url}/{path}", headers=bearer(env.reader), timeout=_TIMEOUT)
        assert reply.status_code == 404, reply.text
        assert ACCESS_KEY not in reply.text and SECRET_KEY not in reply.text
    anonymous = requests.get(f"{url}/s3db/tables/cpu", timeout=_TIMEOUT)
    assert anonymous.status_code == 401 and SECRET_KEY not in anonymous.text
