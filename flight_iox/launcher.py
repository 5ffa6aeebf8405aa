"""Start and stop real ``flight-iox serve`` processes on free loopback ports.

Used by the end-to-end tests and the benchmarks, and handy in scripts: the
server picks free ports and this waits for its ready line to learn them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

READY = re.compile(r"flight-iox ready: http=(\S+) flight=(\S+)")


@dataclass
class RunningServer:
    """A server process and where to reach it."""

    process: subprocess.Popen[bytes]
    http_url: str
    flight_uri: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the server and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """``kill -9``: no chance to flush anything."""
        self.process.kill()
        self.process.wait(timeout=30)


def start_server(
    data_dir: Path, *extra: str, timeout: float = 60, verify: bool | str = True
) -> RunningServer:
    """Start ``flight-iox serve`` on ports the OS picks and wait until it says it is ready.

    ``verify`` is for the readiness check over HTTPS: a CA bundle path (e.g. a
    test's self-signed certificate) or False.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-{time.monotonic_ns()}.log"
    command = [
        sys.executable,
        "-m",
        "flight_iox",
        "serve",
        "--data-dir",
        str(data_dir),
        "--http-addr",
        "127.0.0.1:0",
        "--flight-addr",
        "127.0.0.1:0",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_text(errors="replace"))
        if match:
            server = RunningServer(process, match.group(1), match.group(2), data_dir, log_path)
            requests.get(f"{server.http_url}/health", timeout=10, verify=verify).raise_for_status()
            return server
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server not ready after {timeout}s:\n{log_path.read_text()}")
