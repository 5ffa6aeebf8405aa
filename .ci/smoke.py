"""The README's first command on a fresh install: serve, write one line, query it, stop.

Run with the Python of a venv where only ``pip install -e .`` was done (no extras):
stdlib only, so it proves nothing more than the package itself brings. The server is
the ``flight-iox`` console script, as a user would start it, on a temporary data folder
and ports the OS picks. Exits non-zero with the server's log on any failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

READY = re.compile(r"flight-iox ready: http=(\S+) flight=(\S+)")
LINE = b"cpu,host=smoke usage=12.5,cores=8i 1700000000000000000\n"


def fail(message: str, log: list[str]) -> None:
    sys.stderr.write("".join(log))
    sys.exit(f"smoke: {message}")


def main() -> None:
    executable = shutil.which("flight-iox", path=str(Path(sys.executable).parent))
    if executable is None:
        sys.exit("smoke: no flight-iox console script beside this Python")
    scratch = Path(tempfile.mkdtemp(prefix="flight-iox-smoke-"))
    data_dir = scratch / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}
    env |= {  # the README's command as is: the settings come from documented variables
        "FLIGHT_IOX_DATA_DIR": str(data_dir),
        "FLIGHT_IOX_HTTP_ADDR": "127.0.0.1:0",
        "FLIGHT_IOX_FLIGHT_ADDR": "127.0.0.1:0",
    }
    started = time.monotonic()
    server = subprocess.Popen(
        [executable, "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    log: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def read_output() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            log.append(line)
            match = READY.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout=180):
            fail(f"no ready line (exit status {server.poll()})", log)
        http = found[0]
        print(f"smoke: ready at {http} after {time.monotonic() - started:.1f}s")
        write = urllib.request.Request(f"{http}/api/v3/write_lp?db=smoke", data=LINE, method="POST")
        with urllib.request.urlopen(write, timeout=60) as reply:
            if reply.status != 204:
                fail(f"write answered {reply.status}", log)
        query = f"{http}/api/v3/query_sql?db=smoke&format=json&q=" + urllib.parse.quote(
            "SELECT host, usage, cores, time FROM cpu"
        )
        with urllib.request.urlopen(query, timeout=60) as reply:
            rows = json.loads(reply.read())
        expected = [{"host": "smoke", "usage": 12.5, "cores": 8, "time": "2023-11-14T22:13:20"}]
        if rows != expected:
            fail(f"query answered {rows!r}, expected {expected!r}", log)
        print(f"smoke: wrote and read back {rows}")
        # The query explorer's files are package data: found here only if the install has them.
        for path in ("/", "/explorer/explorer.js", "/explorer/uPlot.iife.min.js"):
            with urllib.request.urlopen(f"{http}{path}", timeout=60) as reply:
                if not reply.read() or "Content-Security-Policy" not in reply.headers:
                    fail(f"GET {path} answered no page or no Content-Security-Policy", log)
        print("smoke: the query explorer is served at /")
    except (OSError, ValueError) as error:
        server.kill()
        fail(f"{type(error).__name__}: {error}", log)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        fail("still running 60 s after SIGTERM", log)
    reader.join(timeout=10)
    if status != 0:
        fail(f"exit status {status} after SIGTERM", log)
    if any("Traceback" in line for line in log):
        fail("the server logged a traceback", log)
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"smoke: clean exit after SIGTERM ({time.monotonic() - started:.1f}s in all)")


if __name__ == "__main__":
    main()
