"""A served process encodes big persists in its child, which ends when the server does."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.test_launcher import ended
from tests.e2e.test_persistence import T0, persist, query, write


def encoder_children(pid: int) -> list[int]:
    """The server's children (of any of its threads) that run the encoder."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                command = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"flight_iox.persist.encoder_child" in command:
                    found.append(int(child))
    return found


def encodes(server: RunningServer) -> dict[str, float]:
    """``flight_iox_persist_encodes_total`` from ``/metrics``, by its ``where`` label."""
    reply = requests.get(f"{server.http_url}/metrics", timeout=30)
    assert reply.status_code == 200, reply.text
    return {
        sample.labels["where"]: sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
        if sample.name == "flight_iox_persist_encodes_total"
    }


def niceness_of_threads(pid: int) -> set[int]:
    """The niceness of each of ``pid``'s threads (field 19 of ``stat``)."""
    return {
        int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def test_the_encoder_child_serves_persists_and_ends_with_the_server(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data", "--persist-encoder-min-rows", "10", "--persist-encoder-nice", "7",
        timeout=120,
    )  # fmt: skip
    try:
        body = "\n".join(f"m,host=h{i % 5} v={i} {T0 + i}" for i in range(1_000))
        write(server, "db", body)
        assert persist(server)["rows"] == 1_000
        (child,) = encoder_children(server.process.pid)
        own = os.getpriority(os.PRIO_PROCESS, 0)  # the server's, inherited from this process
        assert niceness_of_threads(server.process.pid) == {own}
        assert niceness_of_threads(child) == {min(19, own + 7)}  # niced before its imports
        write(server, "db", body.replace("m,", "n,"))
        assert persist(server)["rows"] == 1_000
        assert encoder_children(server.process.pid) == [child]  # one child, kept between persists
        for table in ("m", "n"):
            assert query(server, "db", f"SELECT count(*) AS n FROM {table}") == [{"n": 1_000}]
        assert encodes(server) == {"child": 2.0, "thread": 0.0}
    finally:
        server.kill()
    deadline = time.monotonic() + 30
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended(child), "the encoder outlived its server"
    assert not list(Path("/dev/shm").glob(f"flight-iox-encode-{server.process.pid}-*"))
