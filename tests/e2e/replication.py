"""Helpers for the replication tests: leaders and replicas as real processes, writers that
remember what was acknowledged, and what a node holds.

A push replica starts first (its Flight address goes into the leader's
``--replicate-to``); a pull follower starts after its leader. A restart keeps a node's
addresses, so the others find it again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.cluster import sql, write_lp

DB = "rep"


@dataclass
class Nodes:
    """The servers one test started (stopped or killed afterwards, resumed if paused)."""

    root: Path
    running: dict[str, RunningServer] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)

    def start(self, name: str, *flags: str) -> RunningServer:
        """Start node ``name`` (again: with its flags, data folder and addresses)."""
        if name in self.running:
            old = self.running[name]
            where = ["--http-addr", old.http_url.split("//")[1],
                     "--flight-addr", old.flight_uri.split("//")[1]]  # fmt: skip
            server = start_server(self.root / name, *self.flags[name], *where, timeout=120)
        else:
            self.flags[name] = ["--node-id", name, *flags]
            server = start_server(self.root / name, *self.flags[name], timeout=120)
        self.running[name] = server
        return server

    def stop_all(self) -> None:
        """Resume, then stop, every node still running (at once: each persists on its way)."""
        alive = [s for s in self.running.values() if s.process.poll() is None]
        for server in alive:
            server.process.send_signal(signal.SIGCONT)
        with ThreadPoolExecutor(max(1, len(alive))) as pool:
            list(pool.map(lambda server: server.stop(), alive))


@contextmanager
def nodes(root: Path) -> Iterator[Nodes]:
    """A ``Nodes`` whose servers are all stopped at the end."""
    started = Nodes(root)
    try:
        yield started
    finally:
        started.stop_all()


def line(writer: str, n: int) -> str:
    """One point with its own key (writer and number), so each write adds one row."""
    return f"t,w={writer},n={n} v={n}i {1_000_000_000 + n}"


def keys(server: RunningServer) -> set[tuple[str, str]]:
    """The ``(writer, n)`` keys ``server`` holds."""
    rows = sql(server, DB, "SELECT w, n FROM t")
    return {(r["w"], r["n"]) for r in rows}


def count(server: RunningServer) -> int:
    """Rows of the test table on ``server`` (0 before it exists)."""
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": DB, "q": "SELECT count(*) AS c FROM t"}, timeout=60,
    )  # fmt: skip
    return int(reply.json()[0]["c"]) if reply.status_code == 200 else 0


def replication(server: RunningServer) -> list[dict]:
    """``system.replication`` on ``server``."""
    return sql(server, DB, "SELECT * FROM system.replication ORDER BY replica")


def promote(server: RunningServer) -> dict:
    """``POST /api/v3/configure/node/promote`` (asserting a 200); its answer."""
    reply = requests.post(f"{server.http_url}/api/v3/configure/node/promote", timeout=30)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


class Writers:
    """Threads writing one point per request to ``server`` until stopped; each keeps the keys
    whose write was acknowledged (204). Failures (the server was killed) end a thread."""

    def __init__(self, server: RunningServer, names: list[str]) -> None:
        self.acked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.started = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(server, n)) for n in names]
        for thread in self._threads:
            thread.start()

    def _run(self, server: RunningServer, name: str) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                reply = write_lp(server, DB, line(name, n), timeout=30)
            except requests.RequestException:
                return
            if reply.status_code == 204:
                with self._lock:
                    self.acked.add((name, str(n)))
                if len(self.acked) >= 20:
                    self.started.set()

    def stop(self) -> set[tuple[str, str]]:
        """Stop writing; the acknowledged keys."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return set(self.acked)
