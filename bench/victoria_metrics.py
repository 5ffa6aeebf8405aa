"""Run Debian's VictoriaMetrics (``victoria-metrics``) on loopback for a benchmark, and stop it.

Only the benchmark scripts use this. The server gets a temporary data folder, a free
loopback port and a 100-year retention (TSBS data is dated 2016; the default of one month
would drop it). It takes InfluxDB line protocol on ``/write``, as flight-iox and InfluxDB
1.x do. Unlike them it acknowledges a write before it is on disk: rows are buffered in
memory and flushed about every second (``/internal/force_flush`` forces it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from bench.influxdb1 import folder_bytes, free_port

BINARY = "victoria-metrics"


class VictoriaMetrics:
    """A ``victoria-metrics`` process on loopback; use as a context manager."""

    def __init__(self) -> None:
        """Nothing runs until ``__enter__``."""
        self.binary = shutil.which(BINARY)
        self.root = Path(tempfile.mkdtemp(prefix="victoria-metrics-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether Debian's victoria-metrics is installed (``apt-get install victoria-metrics``)."""
        return shutil.which(BINARY) is not None

    @property
    def data_path(self) -> Path:
        """Its ``-storageDataPath``."""
        return self.root / "data"

    def __enter__(self) -> VictoriaMetrics:
        args = [
            str(self.binary),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.data_path}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
            "-selfScrapeInterval=0",
        ]
        with open(self.root / "victoria-metrics.log", "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"victoria-metrics did not start; see {self.root}/victoria-metrics.log")

    def settle(self, timeout: float = 300) -> bool:
        """Flush buffered rows and merge every partition fully; True once merges are done.

        ``force_merge`` starts the merges in the background; they are done when the
        ``vm_active_merges`` gauges of ``/metrics`` are all zero.
        """
        requests.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()
        requests.get(f"{self.url}/internal/force_merge", timeout=60).raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            metrics = requests.get(f"{self.url}/metrics", timeout=60).text
            active = [
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("vm_active_merges")
            ]
            if active and not any(active):
                return True
            time.sleep(0.1)
        return False

    def disk_bytes(self) -> tuple[int, int]:
        """Bytes of its sample parts (``data/``) and of everything in its data path."""
        samples = self.data_path / "data"
        return folder_bytes(samples), folder_bytes(self.data_path)

    def sample_count(self, time_s: int) -> int:
        """Samples stored for label ``db="tsbs"`` up to ``time_s`` (a check that all arrived)."""
        query = 'sum(count_over_time({db="tsbs"}[30d]))'
        reply = requests.get(
            f"{self.url}/api/v1/query", params={"query": query, "time": time_s}, timeout=300
        )
        reply.raise_for_status()
        result = reply.json()["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
