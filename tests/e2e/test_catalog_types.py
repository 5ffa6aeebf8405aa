"""Catalogs other than the default, opened through PyIceberg's ``load_catalog`` by a real server.

``--catalog-type glue`` runs against moto's Glue API (moto in server mode, on loopback, the
same server that is the S3 warehouse); ``--catalog-type sql`` with ``--catalog-property``
runs against PostgreSQL. No REST or Hive server runs here. A bad catalog property stops the
server at start with a message naming the flag to use.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import run_cli, start_server
from tests.e2e.moto_s3 import REGION, MotoS3, moto_s3, set_aws_env
from tests.e2e.test_persistence import T0, persist, query, write
from tests.e2e.test_persistence_postgres import catalog_uri
from tests.e2e.test_persistence_s3 import pyiceberg_catalog

__all__ = ["catalog_uri", "moto_s3"]  # the fixtures, imported for pytest


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def test_glue_catalog_persists_restarts_and_reads_from_outside(
    tmp_path: Path, moto_s3: MotoS3
) -> None:
    boto3 = pytest.importorskip("boto3")
    data_dir = tmp_path / "data"
    flags = [
        *moto_s3.flags(prefix="glue"),
        "--catalog-type", "glue",
        "--catalog-property", f"glue.endpoint={moto_s3.endpoint}",
        "--catalog-property", f"glue.region={REGION}",
    ]  # fmt: skip
    lines = [f"cpu,host=h{i % 3} usage={i}.5 {T0 + i * 1_000_000_007}" for i in range(120)]
    server = start_server(data_dir, *flags, timeout=120)
    try:
        write(server, "gluedb", "\n".join(lines))
        assert persist(server)["rows"] == 120
        write(server, "gluedb", f"cpu,host=h0 usage=-1 {T0}")  # an overwrite, then a new commit
        persist(server)
    finally:
        server.stop()
    assert not (data_dir / "catalog.db").exists()  # no SQLite catalog was made

    glue = boto3.client("glue", endpoint_url=moto_s3.endpoint, region_name=REGION)
    table = glue.get_table(DatabaseName="gluedb", Name="cpu")["Table"]
    assert table["Parameters"]["table_type"].upper() == "ICEBERG"
    assert table["Parameters"]["metadata_location"].startswith(f"s3://{moto_s3.bucket}/glue/")

    shutil.rmtree(data_dir / "wal")  # recovery comes from Glue and the bucket alone
    server = start_server(data_dir, *flags, timeout=120)
    try:
        assert query(server, "gluedb", "SELECT count(*) AS n, min(usage) AS low FROM cpu") == [
            {"n": 120, "low": -1.0}
        ]
        catalog = pyiceberg_catalog(server.http_url)
        assert catalog.properties["type"] == "glue"
        assert catalog.load_table(("gluedb", "cpu")).scan().to_arrow().num_rows >= 120
        url = f"{server.http_url}/api/v3/configure/database"
        requests.delete(url, params={"db": "gluedb"}, timeout=60).raise_for_status()
    finally:
        server.stop()
    names = [db["Name"] for db in glue.get_databases()["DatabaseList"]]
    assert "gluedb" not in names  # the drop reached Glue
    assert not [key for key in moto_s3.objects("glue") if "/gluedb/" in key]  # and its files


def test_sql_type_given_explicitly_with_extra_properties(
    tmp_path: Path, catalog_uri: str, moto_s3: MotoS3
) -> None:
    flags = [
        *moto_s3.flags(prefix="explicit"),
        "--catalog-type", "sql",
        "--catalog-uri", catalog_uri,
        "--catalog-property", "pool_pre_ping=true",
        "--catalog-property", "my.secret-token=do-not-show",
    ]  # fmt: skip
    server = start_server(tmp_path / "data", *flags, timeout=120)
    try:
        write(server, "explicit", "\n".join(f"m v={i} {T0 + i}" for i in range(10)))
        assert persist(server)["rows"] == 10
        catalog = pyiceberg_catalog(server.http_url)
        try:
            assert catalog.properties["pool_pre_ping"] == "true"
            assert "my.secret-token" not in catalog.properties
            assert catalog.properties["uri"].startswith("postgresql+psycopg://")
            assert catalog.load_table(("explicit", "m")).scan().to_arrow().num_rows == 10
        finally:
            catalog.engine.dispose()  # its pooled PostgreSQL connections, closed now, not by GC
    finally:
        server.stop()
    assert not (tmp_path / "data" / "catalog.db").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--catalog-property", "s3.endpoint=http://elsewhere"], "--s3-endpoint"),
        (["--catalog-property", "uri=sqlite:///x.db"], "use --catalog-uri"),
        (["--catalog-property", "no-equals-sign"], "expected KEY=VALUE"),
        (["--catalog-type", "rest"], "uri"),  # PyIceberg's own check: a REST catalog needs one
        (["--s3-endpoint", "http://127.0.0.1:9", "--object-store", "s3", "--bucket", "b"],
         "--s3-allow-http"),
    ],
)  # fmt: skip
def test_bad_catalog_settings_stop_the_server_with_a_clear_message(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    """``run_cli`` forks the command from the zygote, which has the serve path imported (a new
    interpreter spent about 2 s of CPU importing it before it refused the flags)."""
    command = ["serve", "--data-dir", str(tmp_path / "d"),
               "--http-addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0", *flags]  # fmt: skip
    done = run_cli(command, timeout=120)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
