"""A table partitioned by ``hour(time)`` and ``bucket(4, host)``, end to end.

The server splits persisted rows by the table's Iceberg spec; PyIceberg, DuckDB and
Polars read the partition values back and find them right for every row; compaction
merges files only within one partition of one spec; queries answer as before; and a
spec evolution leaves old files in their old spec.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pytest
import requests
from pyiceberg.catalog import load_catalog
from pyiceberg.table import Table
from pyiceberg.transforms import BucketTransform, HourTransform
from pyiceberg.types import StringType, TimestampType

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
NS_PER_HOUR = 3_600_000_000_000
HOSTS = [f"host-{i}" for i in range(8)]
SQL_ALL = "SELECT host, region, usage, CAST(time AS BIGINT) AS t FROM cpu ORDER BY host, t"


def write(server: RunningServer, body: str) -> None:
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "part"}, data=body, timeout=30
    )
    assert reply.status_code == 204, reply.text


def query(server: RunningServer, sql: str) -> list[dict]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": "part", "q": sql}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def post(server: RunningServer, path: str) -> dict:
    reply = requests.post(f"{server.http_url}{path}", params={"db": "part"}, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def configure(server: RunningServer, partition_by: object) -> requests.Response:
    body = {"db": "part", "table": "cpu", "partition_by": partition_by}
    return requests.put(f"{server.http_url}/api/v3/configure/table", json=body, timeout=60)


def lines(start: int, count: int, usage: float) -> str:
    """``count`` rows from ``start`` ns, a minute apart, over every host."""
    return "\n".join(
        f"cpu,host={HOSTS[i % 8]},region=r{i % 2} usage={usage + i} {start + i * 60_000_000_000}"
        for i in range(count)
    )


def iceberg_table(server: RunningServer) -> Table:
    props = requests.get(f"{server.http_url}/api/v3/configure/catalog", timeout=10).json()
    return load_catalog(props.pop("name"), **props).load_table(("part", "cpu"))


def partition_of(host: str, micros: int) -> tuple[int, int]:
    """What Iceberg says the row's partition is (PyIceberg's per-value transforms)."""
    hour = HourTransform().transform(TimestampType())(micros)
    bucket = BucketTransform(4).transform(StringType())(host)
    assert hour is not None and bucket is not None
    return hour, bucket


def check_files_against_rows(table: Table) -> Counter[tuple[int, ...]]:
    """Every file's recorded partition holds exactly its rows' partition; files per one."""
    files: Counter[tuple[int, ...]] = Counter()
    for task in table.scan().plan_files():
        data = task.file
        if data.spec_id != table.spec().spec_id:
            continue
        recorded = (data.partition[0], data.partition[1])
        path = data.file_path.removeprefix("file://")
        assert "/time_hour=" in path and f"/host_bucket_4={recorded[1]}/" in path
        rows = duckdb.sql(
            f"SELECT host, epoch_us(time) AS us, time_hour, host_bucket_4 "
            f"FROM read_parquet('{path}', hive_partitioning = true)"
        ).fetchall()
        for host, micros, hour_text, bucket in rows:
            assert partition_of(host, micros) == recorded
            assert int(bucket) == recorded[1]  # the folder names the same partition
            assert hour_text.startswith("2023-11-")
        files[recorded] += 1
    return files


@pytest.mark.slow
def test_hour_and_bucket_partitions_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLARS_ICEBERG_PLANNER", "pyiceberg")  # no polars_iceberg here
    server = start_server(tmp_path / "data")
    try:
        write(server, lines(T0, 240, 0.0))  # 4 hours, 8 hosts
        before = query(server, SQL_ALL)
        assert len(before) == 240

        reply = configure(server, ["hour(time)", "bucket(4, host)"])
        assert reply.status_code == 200, reply.text
        assert reply.json()["partition_by"] == ["hour(time)", "bucket(4, host)"]
        post(server, "/api/v3/persist")

        table = iceberg_table(server)
        assert [str(f.transform) for f in table.spec().fields] == ["hour", "bucket[4]"]
        first = check_files_against_rows(table)
        expected = Counter(partition_of(r["host"], r["t"] // 1000) for r in before)
        assert set(first) == set(expected) and all(n == 1 for n in first.values())
        assert query(server, SQL_ALL) == before  # no deduplication lost or added a row

        # External readers: PyIceberg prunes by partition, Polars scans the table.
        scan = table.scan(row_filter="host == 'host-3'")
        bucket = partition_of("host-3", 0)[1]
        assert {task.file.partition[1] for task in scan.plan_files()} == {bucket}
        assert scan.to_arrow().num_rows == 30
        frame = pl.scan_iceberg(table).collect()
        assert frame.height == 240 and frame["usage"].sum() == sum(range(240))

        # A second persist into the same partitions, overwriting one key: two files per
        # partition, which compaction merges, one partition at a time.
        write(server, lines(T0, 240, 1000.0))
        post(server, "/api/v3/persist")
        assert set(check_files_against_rows(iceberg_table(server)).values()) == {2}
        after_overwrite = query(server, SQL_ALL)
        assert [r["usage"] for r in after_overwrite] == [r["usage"] + 1000 for r in before]
        report = post(server, "/api/v3/compact")
        assert report["partitions"] == len(expected)
        assert report["files_before"] == 2 * len(expected)
        assert report["files_after"] == len(expected)
        assert check_files_against_rows(iceberg_table(server)) == Counter(
            dict.fromkeys(expected, 1)
        )
        assert query(server, SQL_ALL) == after_overwrite

        # Evolve to day(time): old files keep their spec; new ones follow the new one.
        reply = configure(server, ["day(time)"])
        assert reply.json()["partition_by"] == ["day(time)"]
        old_spec = table.spec().spec_id
        write(server, lines(T0, 8, 5000.0))  # overwrites keys of old-spec files
        post(server, "/api/v3/persist")
        write(server, lines(T0 + 8 * 60_000_000_000, 8, 6000.0))
        post(server, "/api/v3/persist")
        table = iceberg_table(server)
        specs = Counter(task.file.spec_id for task in table.scan().plan_files())
        assert specs == {old_spec: len(expected), table.spec().spec_id: 2}
        report = post(server, "/api/v3/compact")
        assert report["files_before"] == 2 and report["files_after"] == 1  # the new spec only
        table = iceberg_table(server)
        specs = Counter(task.file.spec_id for task in table.scan().plan_files())
        assert specs == {old_spec: len(expected), table.spec().spec_id: 1}
        rows = query(server, SQL_ALL)
        assert len(rows) == 240
        changed = {(r["host"], r["t"]): r["usage"] for r in rows if r["usage"] >= 5000}
        assert len(changed) == 16
    finally:
        server.stop()


def test_partitioning_requests_are_checked(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        write(server, lines(T0, 4, 0.0))
        url = f"{server.http_url}/api/v3/configure/table"
        reply = requests.get(url, params={"db": "part", "table": "cpu"}, timeout=10)
        assert reply.json() == {"db": "part", "table": "cpu", "partition_by": ["day(time)"]}
        refused = configure(server, ["usage"])
        assert refused.status_code == 400
        assert "'usage' is a field" in refused.json()["error"]
        assert configure(server, "day(time)").status_code == 400
        assert configure(server, ["bucket(4, nohost)"]).status_code == 400
        missing = requests.put(
            url, json={"db": "part", "table": "nope", "partition_by": []}, timeout=10
        )
        assert missing.status_code == 404
        reply = configure(server, [])  # unpartitioned
        assert reply.status_code == 200 and reply.json()["partition_by"] == []
        post(server, "/api/v3/persist")
        (task,) = iceberg_table(server).scan().plan_files()
        assert "/data/" in task.file.file_path and "=" not in task.file.file_path
        assert query(server, "SELECT count(*) AS n FROM cpu") == [{"n": 4}]
    finally:
        server.stop()
