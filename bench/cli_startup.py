"""Start-up time of the ``flight-iox`` commands against bare Python, measured in the same run.

    python bench/cli_startup.py [--repeat 7]

Each command runs ``--repeat`` times in a fresh interpreter (``python -m flight_iox``
with this checkout on ``PYTHONPATH``); the fastest run counts, since the machine is
shared. Printed per command: seconds, seconds over bare ``python -c pass``, and the ratio
to it. The ``--help`` rows are the CLI's own start; ``write``, ``db list`` and ``query``
rows also run the command against a closed port (so they fail fast after loading what
they need: requests for the HTTP ones, the Flight SQL driver and pyarrow for ``query``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fastest(command: list[str], repeat: int, env: dict[str, str], stdin: bytes = b"") -> float:
    """The fastest wall time of ``repeat`` runs of ``command``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, input=stdin, capture_output=True, env=env, check=False)
        best = min(best, time.perf_counter() - started)
    return best


def row(name: str, seconds: float, bare: float) -> None:
    """One line of the table: seconds, seconds over bare Python, ratio to it."""
    print(f"{name:<34}{seconds:>9.3f}{seconds - bare:>11.3f}{seconds / bare:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("", "catalog", "clients"))
    port = closed_port()
    cli = [sys.executable, "-m", "flight_iox"]
    cases: list[tuple[str, list[str]]] = [
        ("--help", ["--help"]),
        ("serve --help", ["serve", "--help"]),
        ("write --help", ["write", "--help"]),
        ("query --help", ["query", "--help"]),
        ("db list --help", ["db", "list", "--help"]),
        ("token create --help", ["token", "create", "--help"]),
        ("write (empty stdin)", ["write", "--db", "x", "--host", f"http://127.0.0.1:{port}", "-"]),
        ("db list (closed port)", ["db", "list", "--host", f"http://127.0.0.1:{port}"]),
        ("query (closed port)", ["query", "--db", "x", "--host", f"grpc://127.0.0.1:{port}", "1"]),
    ]
    bare = fastest([sys.executable, "-c", "pass"], args.repeat, env)
    print(f"python {sys.version.split()[0]}, fastest of {args.repeat} runs per row")
    print(f"{'command':<34}{'seconds':>9}{'over bare':>11}{'x bare':>8}")
    row("python -c pass", bare, bare)
    for name, argv in cases:
        row(f"flight-iox {name}", fastest([*cli, *argv], args.repeat, env), bare)


if __name__ == "__main__":
    main()
