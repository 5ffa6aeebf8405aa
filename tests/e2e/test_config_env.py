"""The documented ``FLIGHT_IOX_<NAME>`` variables configure a real ``flight-iox serve``.

The server is started as the README starts it, with no flag at all: only variables.
(``flight_iox.launcher`` strips ``FLIGHT_IOX_*`` and passes flags, so it is not used here.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from flight_iox.launcher import READY


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_variables_set_the_address_and_a_limit(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}
    env |= {
        "FLIGHT_IOX_DATA_DIR": str(tmp_path / "data"),
        "FLIGHT_IOX_HTTP_ADDR": f"127.0.0.1:{port}",
        "FLIGHT_IOX_FLIGHT_ADDR": "127.0.0.1:0",
        "FLIGHT_IOX_MAX_DATABASES": "1",
    }
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "flight_iox", "serve"], stdout=log, stderr=log, env=env
        )
    try:
        deadline = time.monotonic() + 120
        while not (ready := READY.search(log_path.read_text(errors="replace"))):
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        http = f"http://127.0.0.1:{port}"
        assert ready.group(1) == http  # FLIGHT_IOX_HTTP_ADDR took effect
        assert (tmp_path / "data" / "wal").is_dir()  # and FLIGHT_IOX_DATA_DIR
        first = requests.post(f"{http}/api/v3/write_lp?db=one", data="m v=1 1\n", timeout=30)
        assert first.status_code == 204, first.text
        second = requests.post(f"{http}/api/v3/configure/database", json={"db": "two"}, timeout=30)
        assert second.status_code == 422, second.text  # FLIGHT_IOX_MAX_DATABASES=1
        assert "database" in second.json()["error"]
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0, log_path.read_text()
