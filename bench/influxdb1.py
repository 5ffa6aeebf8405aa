"""Run Debian's InfluxDB 1.x (``influxd``) on loopback for a benchmark, and stop it after.

Only the benchmark scripts use this. The server gets a temporary folder, free
loopback ports, no reporting, and the stock durability (WAL fsync per write).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  index-version = "tsi1"
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = {cq_enabled}
  run-interval = "{cq_run_interval}"
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class InfluxDB1:
    """An ``influxd`` process on loopback; use as a context manager."""

    def __init__(
        self, data_options: dict[str, str] | None = None, cq_run_interval: str | None = None
    ) -> None:
        """``data_options``: extra ``[data]`` settings, as TOML values (e.g. ``'"5s"'``);
        ``cq_run_interval`` (e.g. ``"1s"``) turns continuous queries on."""
        self.data_options = data_options or {}
        self.cq_run_interval = cq_run_interval
        self.binary = shutil.which("influxd")
        self.root = Path(tempfile.mkdtemp(prefix="influxdb1-bench-"))
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether Debian's influxd is installed (``apt-get install influxdb``)."""
        return shutil.which("influxd") is not None

    def __enter__(self) -> InfluxDB1:
        config = self.root / "influxdb.conf"
        text = CONFIG.format(
            root=self.root,
            rpc_port=free_port(),
            http_port=self.http_port,
            cq_enabled=str(self.cq_run_interval is not None).lower(),
            cq_run_interval=self.cq_run_interval or "1s",
        )
        extra = "".join(f"  {k} = {v}\n" for k, v in self.data_options.items())
        config.write_text(text.replace("[http]\n", f"{extra}[http]\n"))
        with open(self.root / "influxd.log", "wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [str(self.binary), "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"influxd did not start; see {self.root / 'influxd.log'}")

    def query(self, q: str, db: str | None = None) -> dict:
        """Run InfluxQL over ``/query`` and return the JSON reply."""
        params = {"q": q, **({"db": db} if db else {})}
        reply = requests.post(f"{self.url}/query", params=params, timeout=300)
        reply.raise_for_status()
        return reply.json()

    def disk_bytes(self) -> int:
        """Bytes of TSM data and WAL on disk."""
        return folder_bytes(self.root)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    """Bytes of the files under ``folder`` that match ``pattern``. A peer removes files while
    we list them (a WAL segment, a compacted TSM file, a merged part): those count 0."""
    total = 0
    for path in folder.rglob(pattern):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                total += path.stat().st_size
    return total
