"""Pruning before planning answers exactly as planning over every file, end to end.

Two servers hold the same TSBS-like ``cpu`` table (hourly partitions, hostnames in four
buckets; files from two persists, the second overwriting some keys field by field, plus
rows still buffered): one prunes, one runs with ``--no-query-file-pruning``. Every query,
SQL and InfluxQL, must answer the same on both, and EXPLAIN shows that the pruning one
planned fewer files. Two servers and their loads take well over 5 s, so the module is
``slow``; ``tests/unit/query/test_pruning_answers.py`` runs the same SQL in process by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

DB = "tsbs"
T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z
HOUR = 3_600_000_000_000
STEP = 600_000_000_000  # a row per host every 10 minutes
HOSTS = [f"host_{i}" for i in range(8)]
TEMPLATE = {"time": "hour", "buckets": {"hostname": 4}}
pytestmark = pytest.mark.slow
NO_CACHE = ("--parquet-cache-size", "0")


def lines(start: int, hours: int, offset: float, every: int = 1) -> str:
    return "\n".join(
        f"cpu,hostname={host},region=r{i % 3},datacenter=dc{i % 2} "
        + (f"usage_user={(t // STEP + i) % 97 + offset}," if t // STEP % every == 0 else "")
        + f"usage_system={i}i {t}"
        for t in range(start, start + hours * HOUR, STEP)
        for i, host in enumerate(HOSTS)
    )


def load(server: RunningServer) -> None:
    url = server.http_url
    made = requests.post(
        f"{url}/api/v3/configure/database", json={"db": DB, "partition_template": TEMPLATE}
    )
    assert made.status_code == 201, made.text
    for body, persist in (
        (lines(T0, 6, 0.0), True),
        (lines(T0 + 2 * HOUR, 2, 1000.0, every=3), True),  # overwrites usage_user of some keys
        (lines(T0 + 5 * HOUR, 2, 5000.0), False),  # stays in the buffer
    ):
        reply = requests.post(f"{url}/api/v3/write_lp", params={"db": DB}, data=body, timeout=30)
        assert reply.status_code == 204, reply.text
        if persist:
            done = requests.post(f"{url}/api/v3/persist", params={"db": DB}, timeout=120)
            assert done.status_code == 200, done.text


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, ...]]:
    # No Parquet cache, so every file is a Parquet scan (EXPLAIN names them).
    on = start_server(tmp_path_factory.mktemp("pruning_on") / "data", *NO_CACHE)
    off = start_server(
        tmp_path_factory.mktemp("pruning_off") / "data", *NO_CACHE, "--no-query-file-pruning"
    )
    try:
        load(on)
        load(off)
        yield on, off
    finally:
        on.stop()
        off.stop()


def ns(hours: float, plus: int = 0) -> str:
    return f"arrow_cast({int(T0 + hours * HOUR) + plus}, 'Timestamp(Nanosecond, None)')"


SQL = [
    f"SELECT * FROM cpu WHERE time >= {ns(3)} AND time < {ns(4)} ORDER BY hostname, time",
    f"SELECT * FROM cpu WHERE time > {ns(3)} AND time <= {ns(4)} ORDER BY hostname, time",
    f"SELECT * FROM cpu WHERE time >= {ns(3, 1)} AND time < {ns(3, 1_000)} ORDER BY hostname",
    f"SELECT * FROM cpu WHERE time < {ns(0, 1)} ORDER BY hostname",
    f"SELECT * FROM cpu WHERE time = {ns(5)} ORDER BY hostname",
    "SELECT * FROM cpu WHERE hostname = 'host_3' ORDER BY time",
    "SELECT hostname, avg(usage_user) AS a, count(*) AS n FROM cpu "
    "WHERE hostname IN ('host_1', 'host_6') GROUP BY hostname ORDER BY hostname",
    f"SELECT date_bin(interval '1 hour', time) AS h, max(usage_user) AS m FROM cpu "
    f"WHERE hostname = 'host_2' AND time BETWEEN {ns(1.5)} AND {ns(5.5)} GROUP BY h ORDER BY h",
    "SELECT count(*) AS n FROM cpu WHERE hostname = 'host_4' OR hostname = 'host_5'",
    "SELECT count(*) AS n FROM cpu WHERE region = 'r1' AND datacenter = 'dc0'",
    "SELECT count(*) AS n FROM cpu WHERE hostname <> 'host_0' AND usage_user > 50",
    "SELECT count(*) AS n FROM cpu WHERE hostname = 'nosuch'",
    f"SELECT count(*) AS n FROM cpu WHERE time >= {ns(6)} AND hostname = 'host_7'",
    f"SELECT a.hostname, count(*) AS n FROM cpu a JOIN cpu b ON a.time = b.time "
    f"AND a.hostname = b.hostname WHERE a.hostname = 'host_1' AND b.time < {ns(4)} "
    f"GROUP BY a.hostname",
    f"SELECT hostname FROM cpu WHERE time < {ns(1)} UNION ALL SELECT hostname FROM cpu "
    f"WHERE hostname = 'host_2' ORDER BY hostname",
    "SELECT * FROM (SELECT hostname, usage_user, time FROM cpu WHERE hostname = 'host_5') s "
    f"WHERE time >= {ns(4.5)} ORDER BY time",
    "SELECT hostname, usage_user FROM cpu WHERE usage_user IS NULL ORDER BY hostname LIMIT 5",
]
INFLUXQL = [
    "SELECT mean(usage_user) FROM cpu WHERE hostname = 'host_3' AND time >= '2023-11-15T03:00:00Z'"
    " AND time < '2023-11-15T05:00:00Z' GROUP BY time(30m)",
    "SELECT max(usage_user) FROM cpu WHERE time > '2023-11-15T04:30:00Z' GROUP BY hostname",
    "SELECT * FROM cpu WHERE hostname =~ /host_[12]/ AND time <= '2023-11-15T01:00:00Z'",
    "SELECT count(usage_system) FROM cpu WHERE region = 'r2'",
]


def sql(server: RunningServer, text: str) -> object:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": DB, "q": text}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize("text", SQL)
def test_sql_answers_are_the_same(servers: tuple[RunningServer, ...], text: str) -> None:
    on, off = servers
    assert sql(on, text) == sql(off, text)


@pytest.mark.parametrize("text", INFLUXQL)
def test_influxql_answers_are_the_same(servers: tuple[RunningServer, ...], text: str) -> None:
    def run(server: RunningServer) -> object:
        reply = requests.get(f"{server.http_url}/query", params={"db": DB, "q": text}, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()

    on, off = servers
    assert run(on) == run(off)


def test_fewer_files_are_planned(servers: tuple[RunningServer, ...]) -> None:
    on, off = servers
    where = f"hostname = 'host_3' AND time >= {ns(3)} AND time < {ns(4)}"
    query = f"EXPLAIN SELECT * FROM cpu WHERE {where}"

    def files(server: RunningServer) -> int:
        rows = sql(server, query)
        assert isinstance(rows, list)
        return len({p for row in rows for p in re.findall(r"[^\s,\[\]]+\.parquet", row["plan"])})

    planned_on, planned_off = files(on), files(off)
    assert planned_off >= 24  # 6 hours x 4 buckets, and more where the overwrite went
    assert 1 <= planned_on <= 2, planned_on  # the hour's bucket (and its overwrite)
