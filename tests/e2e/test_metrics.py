"""``GET /metrics``: what it counts, who may read it, and the real Prometheus scraping it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from flight_iox.launcher import RunningServer, start_server

DB = "metrics_a"
BODY = b"cpu,host=a usage=1 1\ncpu,host=b usage=2 2\ncpu,host=c usage= 3\n"  # one bad line


@dataclass(frozen=True)
class Served:
    server: RunningServer
    admin: str
    reader: str
    prometheus: tuple[int, Path] | None  # its HTTP port and log, where the binary is installed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prometheus_scraping(served: RunningServer, token: str, folder: Path) -> Iterator[int]:
    """A real Prometheus scraping ``served`` every 200 ms with ``token``; its HTTP port.

    Prometheus 2.42 applies its targets only at the first tick of its 5 s reload timer, so it
    starts with the module's server and that wait overlaps the other tests of the module.
    """
    target = served.http_url.removeprefix("http://")
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 200ms\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: flight-iox\n"
        f"    authorization:\n      credentials: {token}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = _free_port()
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(
        tmp_path_factory.mktemp("metrics") / "data",
        "--no-persist-on-shutdown",
        "--auth",
        "required",
    )
    url = f"{server.http_url}/api/v3/configure/token"
    admin = requests.post(f"{url}/admin", timeout=30).json()["token"]
    headers = {"Authorization": f"Bearer {admin}"}
    permissions = [{"database": DB, "actions": ["read"]}]
    reply = requests.post(
        url, json={"name": "reader", "permissions": permissions}, headers=headers, timeout=30
    )
    reader = reply.json()["token"]
    write = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": DB}, data=BODY, headers=headers
    )
    assert write.status_code == 400  # the partial write names the bad line; two rows stored
    with ExitStack() as stack:
        prometheus = None
        if shutil.which("prometheus") is not None:
            folder = tmp_path_factory.mktemp("prometheus")
            port = stack.enter_context(prometheus_scraping(server, admin, folder))
            prometheus = (port, folder / "prometheus.log")
        yield Served(server, admin, reader, prometheus)
    server.stop()


def scrape(served: Served) -> dict[str, float]:
    """Every sample of ``/metrics`` as ``name{labels}`` -> value."""
    reply = requests.get(
        f"{served.server.http_url}/metrics",
        headers={"Authorization": f"Bearer {served.admin}"},
        timeout=30,
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_writes_are_counted_per_database(served: Served) -> None:
    samples = scrape(served)
    label = f'{{database="{DB}"}}'
    assert samples[f"flight_iox_write_lines_total{label}"] == 3
    assert samples[f"flight_iox_write_rows_total{label}"] == 2
    assert samples[f"flight_iox_write_rejected_lines_total{label}"] == 1
    assert samples[f"flight_iox_write_bytes_total{label}"] == len(BODY)
    assert samples["flight_iox_wal_fsync_seconds_count"] >= 1
    assert samples["flight_iox_wal_fsync_group_entries_sum"] >= 1
    assert samples["process_resident_memory_bytes"] > 10_000_000


def test_persist_is_timed_and_empties_the_buffer(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.admin}"}
    write = requests.post(
        f"{served.server.http_url}/api/v3/write_lp",
        params={"db": "metrics_b"},
        data=b"cpu,host=a usage=1 1",
        headers=headers,
        timeout=30,
    )
    assert write.status_code == 204
    before = scrape(served)
    assert before["flight_iox_buffer_rows"] >= 1
    assert before["flight_iox_buffer_bytes"] > 0
    reply = requests.post(f"{served.server.http_url}/api/v3/persist", headers=headers, timeout=60)
    assert reply.status_code == 200, reply.text
    after = scrape(served)
    assert (
        after["flight_iox_persist_seconds_count"] == before["flight_iox_persist_seconds_count"] + 1
    )
    assert after["flight_iox_persist_errors_total"] == 0
    assert after["flight_iox_buffer_rows"] == 0


def test_metrics_need_an_admin_token(served: Served) -> None:
    url = f"{served.server.http_url}/metrics"
    assert requests.get(url, timeout=30).status_code == 401
    reader = {"Authorization": f"Bearer {served.reader}"}
    assert requests.get(url, headers=reader, timeout=30).status_code == 403


def test_disable_authz_metrics_opens_only_metrics(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--auth", "required", "--disable-authz", "metrics")
    try:
        assert requests.get(f"{server.http_url}/metrics", timeout=30).status_code == 200
        query = requests.get(
            f"{server.http_url}/api/v3/query_sql", params={"db": DB, "q": "SELECT 1"}, timeout=30
        )
        assert query.status_code == 401
    finally:
        server.stop()


def test_an_unknown_disable_authz_resource_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--disable-authz: unknown resource tokens"):
        start_server(tmp_path / "data", "--disable-authz", "metrics,tokens")


@pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="the prometheus binary is absent (Debian package prometheus; .ci/run installs it)",
)
def test_prometheus_scrapes_the_server(served: Served) -> None:
    assert served.prometheus is not None
    port, log_path = served.prometheus
    query = f'flight_iox_write_rows_total{{database="{DB}"}}'
    seen: object = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            reply = requests.get(
                f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5
            )
            result = reply.json()["data"]["result"] if reply.status_code == 200 else []
        except requests.ConnectionError:
            result = []
        if result:
            seen = result[0]["value"][1]
            if seen == "2":
                break
        time.sleep(0.1)
    assert seen == "2", log_path.read_text()[-3000:]
