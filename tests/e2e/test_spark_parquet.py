"""Spark (PySpark on the machine's Java 17) reads the Parquet files the catalog lists.

The Iceberg Spark runtime jar cannot be fetched here, so Spark reads the table's current
data files as plain Parquet: the list from ``system.parquet_files``, which must equal the
one the Iceberg REST catalog's manifests give (PyIceberg's ``plan_files``). Rows, exact
nanosecond times (``time`` in µs plus ``time_ns_remainder``), tags and nulls must be what
flight-iox's SQL answers, and the TSBS-style job (bench/analytics_job.py) run as Spark SQL
must answer as flight-iox does. Slow: a JVM and a Spark session take 10-50 s to start here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
import requests
from pyiceberg.catalog import load_catalog

from bench.analytics_job import Window, job_sql, normalized
from flight_iox.launcher import start_server

pytestmark = [
    pytest.mark.slow,
    # PySpark's own import-time notice about pandas 3; nothing here goes through pandas.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

FIRST = dt.datetime(2016, 1, 1)
T0 = int(FIRST.replace(tzinfo=dt.UTC).timestamp()) * 10**9
_TIMEOUT = 120
# Spark's answer with exact nanoseconds; the session time zone is UTC, so the cast of the
# zone-less ``time`` to TIMESTAMP keeps its value.
SPARK_ROWS = (
    "SELECT hostname, region, usage_user, usage_system, extra, "
    "unix_micros(CAST(time AS TIMESTAMP)) * 1000 + time_ns_remainder AS t FROM cpu"
)
SQL_ROWS = (
    "SELECT hostname, region, usage_user, usage_system, extra, CAST(time AS BIGINT) AS t FROM cpu"
)


def _lines() -> str:
    """Seven days of points (seven ``day(time)`` partitions), sub-µs times, a sparse field."""
    lines = []
    for i in range(600):
        extra = f",extra={i}i" if i % 3 == 0 else ""
        lines.append(
            f"cpu,hostname=h{i % 5},region=r\\ {i % 2} usage_user={i % 89}i,"
            f"usage_system={i}.25{extra} {T0 + i * 1_000_000_000_123}"
        )
    return "\n".join(lines)


def _sql(url: str, sql: str) -> list[dict]:
    reply = requests.get(f"{url}/api/v3/query_sql", timeout=_TIMEOUT,
                         params={"db": "sparkdb", "q": sql, "format": "json"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    return list(reply.json())


def test_spark_reads_the_listed_parquet_files_as_flight_iox_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StringType, TimestampNTZType

    server = start_server(tmp_path / "data")
    try:
        url = server.http_url
        reply = requests.post(f"{url}/api/v3/write_lp", params={"db": "sparkdb"},
                              data=_lines(), timeout=_TIMEOUT)  # fmt: skip
        assert reply.status_code == 204, reply.text
        assert requests.post(f"{url}/api/v3/persist", timeout=_TIMEOUT).status_code == 200
        listed = _sql(url, "SELECT path FROM system.parquet_files WHERE table_name = 'cpu'")
        paths = sorted(row["path"] for row in listed)
        catalog = load_catalog("iox", type="rest", uri=f"{url}/iceberg", token="unused")
        tasks = catalog.load_table(("sparkdb", "cpu")).scan().plan_files()
        assert sorted(task.file.file_path for task in tasks) == paths
        assert len(paths) >= 7  # a file per day at least
        expected_rows = sorted(_sql(url, SQL_ROWS), key=lambda row: row["t"])
        window = Window(FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=4))
        expected_job = normalized(pa.Table.from_pylist(_sql(url, job_sql(window))))
    finally:
        server.stop()  # Spark reads the files alone: no server in its path

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds and talks on loopback
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("flight-iox-parquet")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", str(tmp_path / "spark-local"))
        .config("spark.sql.warehouse.dir", str(tmp_path / "spark-warehouse"))
        .getOrCreate()
    )
    try:
        frame = spark.read.parquet(*paths)
        types = {field.name: field.dataType for field in frame.schema.fields}
        assert isinstance(types["time"], TimestampNTZType)  # Iceberg's zone-less timestamp
        assert isinstance(types["hostname"], StringType) and isinstance(types["region"], StringType)
        frame.createOrReplaceTempView("cpu")
        rows = [row.asDict() for row in spark.sql(SPARK_ROWS).collect()]
        assert sorted(rows, key=lambda row: row["t"]) == expected_rows
        assert len(rows) == 600 and expected_rows[1]["t"] == T0 + 1_000_000_000_123
        job = [row.asDict() for row in spark.sql(job_sql(window)).collect()]
        assert normalized(pa.Table.from_pylist(job)) == expected_job
    finally:
        spark.stop()
