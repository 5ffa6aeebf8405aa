"""Daft on a local Ray cluster (a head node and one worker node) over a persisted TSBS table.

The job (bench/analytics_job.py) loads the table through the Iceberg REST catalog with
PyIceberg's stock settings, and Daft plans and reads the Parquet files in Ray's workers. The
head node has no CPUs, so every task runs in the worker node's processes. Its answer must be
flight-iox's own, row for row. Slow: starting two Ray nodes takes 15-40 s on two cores.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from bench.analytics_job import Window, daft_job, job_sql, normalized
from bench.ray_local import connect, local_ray_cluster
from flight_iox.launcher import start_server
from tests.conftest import generate_tsbs

pytestmark = pytest.mark.slow

HOSTS, HOURS = 10, 2  # one point per host every 10 s: 360 an hour
FIRST = dt.datetime(2016, 1, 1)  # generate_tsbs's --start
_TIMEOUT = 120


def test_daft_on_a_local_ray_cluster_answers_as_flight_iox_sql(tmp_path: Path) -> None:
    import daft
    import ray

    lines = generate_tsbs(tmp_path / "cpu.lp", HOSTS, HOURS).read_bytes()
    server = start_server(tmp_path / "data")
    try:
        url = server.http_url
        reply = requests.post(f"{url}/api/v3/write_lp", params={"db": "tsbs"}, data=lines,
                              timeout=_TIMEOUT)  # fmt: skip
        assert reply.status_code == 204, reply.text
        reply = requests.post(f"{url}/api/v3/persist", timeout=_TIMEOUT)
        assert reply.status_code == 200 and reply.json()["rows"] == HOSTS * HOURS * 360
        window = Window.middle_half(FIRST, HOURS)
        params = {"db": "tsbs", "q": job_sql(window), "format": "json"}
        reply = requests.get(f"{url}/api/v3/query_sql", params=params, timeout=_TIMEOUT)
        assert reply.status_code == 200, reply.text
        expected = normalized(pa.Table.from_pylist(reply.json()))
        assert len(expected) == HOSTS and all(row["points"] == HOURS * 180 for row in expected)
        with local_ray_cluster(workers=1, head_cpus=0, worker_cpus=1) as cluster:
            connect(cluster)
            try:
                alive = [node for node in ray.nodes() if node["Alive"]]
                assert sorted(node["Resources"].get("CPU", 0) for node in alive) == [0, 1]
                daft.set_runner_ray()
                answer = daft_job(f"{url}/iceberg", "unused", "tsbs", window)
            finally:
                ray.shutdown()
        assert normalized(answer) == expected
    finally:
        server.stop()
