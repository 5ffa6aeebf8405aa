"""IOx partition templates end to end: ``POST /api/v3/configure/table|database``, the CLI.

One server for the module, one database per test. Each time granularity and each tag part
is checked against PyIceberg's own transforms of every row; invalid templates are 400s that
name the part; a database's default reaches the tables created after it (by a write, by
the route); compaction merges only within a partition, and retention drops whole expired
partitions.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pyiceberg.catalog import load_catalog
from pyiceberg.table import Table
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    MonthTransform,
    Transform,
)
from pyiceberg.types import StringType, TimestampType

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000_000_000
DAY = 24 * HOUR
STEPS = {"hour": HOUR, "day": DAY, "month": 31 * DAY}
TRANSFORMS: dict[str, Transform[Any, Any]] = {
    "hour": HourTransform(),
    "day": DayTransform(),
    "month": MonthTransform(),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("templates") / "data", "--no-persist-on-shutdown"
    )
    yield running
    running.stop()


def create_database(server: RunningServer, db: str, **extra: object) -> requests.Response:
    body = {"db": db, **extra}
    return requests.post(f"{server.http_url}/api/v3/configure/database", json=body, timeout=30)


def create_table(server: RunningServer, db: str, table: str, **extra: object) -> requests.Response:
    body = {"db": db, "table": table, "tags": ["region", "hostname"], **extra}
    body.setdefault("fields", [{"name": "usage", "type": "float64"}])
    return requests.post(f"{server.http_url}/api/v3/configure/table", json=body, timeout=30)


def write(server: RunningServer, db: str, body: str) -> None:
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": db}, data=body, timeout=30
    )
    assert reply.status_code == 204, reply.text


def admin_post(server: RunningServer, path: str, db: str) -> dict[str, Any]:
    reply = requests.post(f"{server.http_url}{path}", params={"db": db}, timeout=120)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def query(server: RunningServer, db: str, sql: str) -> list[dict[str, Any]]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": sql}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()
    return rows


def iceberg(server: RunningServer, db: str, table: str) -> Table:
    props = requests.get(f"{server.http_url}/api/v3/configure/catalog", timeout=10).json()
    return load_catalog(props.pop("name"), **props).load_table((db, table))


def rows(table: str, start: int, step: int, count: int, hosts: int = 4) -> str:
    return "\n".join(
        f"{table},region=r{i % 2},hostname=host-{i % hosts} usage={i} {start + i * step}"
        for i in range(count)
    )


def file_partitions(table: Table) -> list[tuple[Any, ...]]:
    """Each current file's partition values (current spec only)."""
    return sorted(
        tuple(task.file.partition[i] for i in range(len(task.file.partition)))
        for task in table.scan().plan_files()
        if task.file.spec_id == table.spec().spec_id
    )


@pytest.mark.parametrize("granularity", ["hour", "day", "month"])
def test_each_time_granularity(server: RunningServer, db_name: str, granularity: str) -> None:
    assert create_database(server, db_name).status_code == 201
    reply = create_table(server, db_name, "cpu", partition_template={"time": granularity})
    assert reply.status_code == 201, reply.text
    assert reply.json()["partition_by"] == [f"{granularity}(time)"]
    step = STEPS[granularity]
    write(server, db_name, rows("cpu", T0, step, 3))
    admin_post(server, "/api/v3/persist", db_name)
    table = iceberg(server, db_name, "cpu")
    assert [str(f.transform) for f in table.spec().fields] == [granularity]
    transform = TRANSFORMS[granularity].transform(TimestampType())
    expected = sorted({(transform((T0 + i * step) // 1000),) for i in range(3)})
    assert file_partitions(table) == expected and len(expected) == 3
    assert query(server, db_name, "SELECT count(*) AS n FROM cpu") == [{"n": 3}]


def test_identity_and_bucket_tag_parts(server: RunningServer, db_name: str) -> None:
    template = {"time": "day", "tags": ["region"], "buckets": {"hostname": 16}}
    assert create_database(server, db_name).status_code == 201
    reply = create_table(server, db_name, "cpu", partition_template=template)
    assert reply.status_code == 201, reply.text
    assert reply.json()["partition_by"] == ["day(time)", "region", "bucket(16, hostname)"]
    write(server, db_name, rows("cpu", T0, 60_000_000_000, 16, hosts=8))
    admin_post(server, "/api/v3/persist", db_name)
    table = iceberg(server, db_name, "cpu")
    assert [str(f.transform) for f in table.spec().fields] == ["day", "identity", "bucket[16]"]
    day = DayTransform().transform(TimestampType())(T0 // 1000)
    bucket = BucketTransform(16).transform(StringType())
    expected = sorted({(day, f"r{i % 2}", bucket(f"host-{i % 8}")) for i in range(16)})
    assert file_partitions(table) == expected
    found = query(server, db_name, "SELECT hostname, count(*) AS n FROM cpu GROUP BY hostname")
    assert sorted(r["n"] for r in found) == [2] * 8


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ({"time": "week"}, "partition_template.time is 'week'"),
        ({"time": "hour", "buckets": {"hostname": 0}}, "buckets.hostname is 0"),
        ({"tags": "region"}, "partition_template.tags must be a list"),
        ({"time": "day", "granularity": 1}, "unknown key(s) granularity"),
        ({"tags": ["region"], "buckets": {"region": 4}}, "'region' both as a tag and in buckets"),
        ({"tags": ["nosuch"]}, "the table has no tag 'nosuch'"),
        ({"tags": ["usage"]}, "'usage' is a field"),
        ("hour", "partition_template must be an object"),
    ],
)
def test_invalid_templates_are_refused(
    server: RunningServer, db_name: str, template: object, problem: str
) -> None:
    assert create_database(server, db_name).status_code == 201
    reply = create_table(server, db_name, "cpu", partition_template=template)
    assert reply.status_code == 400, reply.text
    assert problem in reply.json()["error"]
    tables = query(server, db_name, "SHOW TABLES")
    assert "cpu" not in {r["table_name"] for r in tables}  # nothing was created


def test_invalid_database_template_is_refused(server: RunningServer, db_name: str) -> None:
    reply = create_database(server, db_name, partition_template={"time": "minute"})
    assert reply.status_code == 400 and "'minute'" in reply.json()["error"]
    databases = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=10).json()
    assert db_name not in {d["iox::database"] for d in databases}


def test_database_default_is_inherited(server: RunningServer, db_name: str) -> None:
    template = {"time": "hour", "tags": ["region"], "buckets": {"hostname": 4}}
    assert create_database(server, db_name, partition_template=template).status_code == 201
    # A write creates 'cpu', which has every tag of the default.
    write(server, db_name, rows("cpu", T0, HOUR, 2))
    # 'mem' lacks 'region': it takes the rest of the default, and the write is not refused.
    write(server, db_name, f"mem,hostname=h1 used=1 {T0}")
    reply = create_table(server, db_name, "disk")  # the route, no template of its own
    assert reply.json()["partition_by"] == ["hour(time)", "region", "bucket(4, hostname)"]
    own = create_table(server, db_name, "net", partition_template={"time": "month"})
    assert own.json()["partition_by"] == ["month(time)"]
    admin_post(server, "/api/v3/persist", db_name)
    cpu = iceberg(server, db_name, "cpu")
    assert [str(f.transform) for f in cpu.spec().fields] == ["hour", "identity", "bucket[4]"]
    mem = iceberg(server, db_name, "mem")
    assert [str(f.transform) for f in mem.spec().fields] == ["hour", "bucket[4]"]
    assert query(server, db_name, "SELECT count(*) AS n FROM mem") == [{"n": 1}]


def test_cli_create_database_and_table(server: RunningServer, db_name: str) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flight_iox", *args, "--host", server.http_url]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    made = cli("create", "database", db_name, "--partition-time", "hour",
               "--partition-tags", "region")  # fmt: skip
    assert made.returncode == 0, made.stderr
    table = cli("create", "table", "cpu", "-d", db_name, "--tags", "region,hostname",
                "--fields", "usage:float64", "--partition-time", "day",
                "--partition-buckets", "hostname:8")  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert '"partition_by": ["day(time)", "bucket(8, hostname)"]' in table.stdout
    inherited = cli("create", "table", "mem", "-d", db_name, "--tags", "region")
    assert '"partition_by": ["hour(time)", "region"]' in inherited.stdout
    bad = cli("create", "table", "x", "-d", db_name, "--partition-buckets", "hostname")
    assert bad.returncode != 0 and "tag:N" in bad.stderr


def test_compaction_and_retention_across_partitions(server: RunningServer, db_name: str) -> None:
    made = create_database(
        server, db_name, retention_period="3h", partition_template={"time": "hour"}
    )
    assert made.status_code == 201, made.text
    now = time.time_ns()
    # Six hourly partitions, 0.25 h to 5.25 h old: the three older than 3 h expired.
    hours = [now - HOUR // 4 - h * HOUR for h in range(6)]
    for usage in (1, 2):  # two persists: two files in every partition
        write(server, db_name, "\n".join(f"cpu,hostname=h usage={usage} {t}" for t in hours))
        admin_post(server, "/api/v3/persist", db_name)
    assert len(file_partitions(iceberg(server, db_name, "cpu"))) == 12
    report = admin_post(server, "/api/v3/compact", db_name)
    assert report["expired_files"] == 6  # the expired partitions' files, whole
    assert (report["partitions"], report["files_before"], report["files_after"]) == (3, 6, 3)
    kept = file_partitions(iceberg(server, db_name, "cpu"))
    hour = HourTransform().transform(TimestampType())
    assert kept == sorted((hour(t // 1000),) for t in hours[:3])
    found = query(server, db_name, "SELECT usage, CAST(time AS BIGINT) AS t FROM cpu ORDER BY t")
    assert found == [{"usage": 2.0, "t": t} for t in sorted(hours[:3])]
