"""Persistence on a real S3-protocol endpoint (moto server on loopback).

The server writes Parquet to the bucket with pyarrow, commits with PyIceberg's
S3 FileIO and queries the files with DataFusion's ``AmazonS3`` store, all over
HTTP to moto.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from pyiceberg.catalog import Catalog, load_catalog

from flight_iox.launcher import start_server
from tests.e2e.moto_s3 import (
    ACCESS_KEY,
    SECRET_KEY,
    MotoS3,
    moto_s3,
    s3_filesystem,
    set_aws_env,
)
from tests.e2e.test_persistence import T0, persist, query, write

__all__ = ["moto_s3"]  # the fixture, imported for pytest


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def pyiceberg_catalog(http_url: str) -> Catalog:
    """The catalog as an outside engine loads it: printed properties plus its own keys."""
    props = requests.get(f"{http_url}/api/v3/configure/catalog", timeout=30).json()
    assert "s3.secret-access-key" not in props and "s3.access-key-id" not in props
    name = props.pop("name")
    return load_catalog(
        name, **props, **{"s3.access-key-id": ACCESS_KEY, "s3.secret-access-key": SECRET_KEY}
    )


def test_s3_persist_overwrite_and_restart_with_empty_wal(tmp_path: Path, moto_s3: MotoS3) -> None:
    data_dir = tmp_path / "data"
    flags = moto_s3.flags(prefix="restart")
    lines = [f"cpu,host=h{i % 4} usage={i}.25,n={i}i {T0 + i * 1_000_000_007}" for i in range(300)]
    server = start_server(data_dir, *flags, timeout=120)
    try:
        write(server, "s3db", "\n".join(lines))
        report = persist(server)
        assert report["rows"] == 300 and report["files"] >= 1
        parquet = [key for key in moto_s3.objects("restart") if key.endswith(".parquet")]
        assert len(parquet) >= report["files"]
        assert not list((data_dir / "warehouse").glob("**/*.parquet"))  # nothing local
        assert query(server, "s3db", "SELECT count(*) AS n FROM cpu") == [{"n": 300}]
        write(server, "s3db", f"cpu,host=h0 n=-1i,extra=true {T0}")  # overwrite, new column
        persist(server)  # two overlapping S3 files, and the schema evolves
        first = f"SELECT n, usage, extra FROM cpu WHERE CAST(time AS BIGINT) = {T0}"
        rows = query(server, "s3db", first)
        assert rows == [{"n": -1, "usage": 0.25, "extra": True}]  # field by field
    finally:
        server.stop()
    shutil.rmtree(data_dir / "wal")  # recovery must come from the catalog and the bucket
    server = start_server(data_dir, *flags, timeout=120)
    try:
        sql = "SELECT host, n, CAST(time AS BIGINT) AS t FROM cpu ORDER BY t"
        rows = query(server, "s3db", sql)
        assert len(rows) == 300
        assert rows[0] == {"host": "h0", "n": -1, "t": T0}
        assert rows[7] == {"host": "h3", "n": 7, "t": T0 + 7 * 1_000_000_007}  # exact ns
        assert query(server, "s3db", "SELECT count(*) AS n FROM cpu WHERE host = 'h1'") == [
            {"n": 75}
        ]
        assert query(server, "s3db", "SELECT count(extra) AS n FROM cpu") == [{"n": 1}]
        table = pyiceberg_catalog(server.http_url).load_table(("s3db", "cpu"))
        arrow = table.scan().to_arrow()
        assert arrow.num_rows == 301  # the raw files: the overwrite is a second file
        assert sorted(arrow.column("n").to_pylist())[:2] == [-1, 0]
        assert all(t.file.file_path.startswith("s3://") for t in table.scan().plan_files())
    finally:
        server.stop()


@pytest.mark.slow
def test_s3_traversal_names_stay_under_the_prefix(tmp_path: Path, moto_s3: MotoS3) -> None:
    """Names like ``../../victim`` never leave ``bucket/prefix/``; other keys are never touched."""
    filesystem = s3_filesystem(moto_s3.endpoint)
    victims = [f"{moto_s3.bucket}/victim/data/old.parquet", f"{moto_s3.bucket}/names2/x.parquet"]
    for key in victims:
        with filesystem.open_output_stream(key) as out:
            out.write(b"PAR1 not ours PAR1")
    names = ["../../victim", "../other/cpu", "..", "%2e%2e", "a/b", "ünï cødé", "x" * 300]
    server = start_server(tmp_path / "data", *moto_s3.flags(prefix="names"), timeout=120)
    try:
        write(server, "other", f"cpu,k=s secret=42i {T0}")
        for i in range(3):
            body = "\n".join(f"{n.replace(' ', chr(92) + ' ')},k=a v={i}i {T0 + i}" for n in names)
            write(server, "mine", body)
            persist(server)
        reply = requests.post(f"{server.http_url}/api/v3/compact", timeout=300)
        assert reply.status_code == 200, reply.text
        outside = [k for k in moto_s3.objects() if not k.startswith(f"{moto_s3.bucket}/names/")]
        assert sorted(outside) == sorted(victims)
        inside = moto_s3.objects("names")
        assert not [k for k in inside if "/../" in k or "/./" in k or "//" in k]
        for name in names:
            sql = f'SELECT count(*) AS n FROM "{name}"'
            assert query(server, "mine", sql) == [{"n": 3}], name
        assert query(server, "other", "SELECT count(*) AS n FROM cpu") == [{"n": 1}]
    finally:
        server.stop()
