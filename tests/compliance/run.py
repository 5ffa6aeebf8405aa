"""Run SQLAlchemy's compliance suite against a fresh flight-iox server; print the counts.

    python tests/compliance/run.py [extra pytest arguments]

The server gets a ``compliance`` database (one line written over HTTP, since
databases come into being with their first write). Exit status is pytest's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from flight_iox.launcher import start_server

HERE = Path(__file__).resolve().parent
DATABASE = "compliance"


def run(extra: list[str]) -> subprocess.CompletedProcess[str]:
    """Start a server, run the suite against it, and return the finished pytest."""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            requests.post(
                f"{server.http_url}/api/v3/write_lp",
                params={"db": DATABASE},
                data="seed,kind=compliance value=1i 0",
                timeout=30,
            ).raise_for_status()
            host_port = server.flight_uri.split("://", 1)[1]
            command = [
                sys.executable,
                "-m",
                "pytest",
                "-c",
                str(HERE / "setup.cfg"),
                "--rootdir",
                str(HERE),
                str(HERE / "sqla_suite.py"),
                "--dburi",
                f"flight_iox://{host_port}/{DATABASE}",
                *extra,
            ]
            env = {**os.environ, "FLIGHT_IOX_SQLA_SUITE": "1"}
            return subprocess.run(command, env=env, text=True, capture_output=True)
        finally:
            server.stop()


if __name__ == "__main__":
    finished = run(sys.argv[1:])
    sys.stdout.write(finished.stdout)
    sys.stderr.write(finished.stderr)
    sys.exit(finished.returncode)
