"""Cost of Flight SQL on the HTTP port against the separate Flight port, same server, same run.

    python bench/one_port.py [--runs 300] [--rows 1000000]

One server; each client connects twice, once to ``--flight-addr`` (the baseline) and once to
the HTTP address, where gRPC is piped to a second Flight server on a Unix socket
(``flight_iox/http/shared_port.py``). Measured alternately, median latency of each:

- ``adbc_driver_flightsql`` DB-API, a small query (``execute`` + ``fetch_arrow_table``: it
  prepares, so CreatePreparedStatement, GetFlightInfo, DoGet, ClosePreparedStatement);
- ``pyarrow.flight`` DoGet of the InfluxDB 3 JSON ticket (what influxdb3-python sends),
  the same small query;
- ``pyarrow.flight`` DoGet of ``--rows`` rows (a large result: bytes through the pipe).

Prints each median and its ratio to the Flight port; writes bench/results/one_port.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.launcher import start_server  # noqa: E402

SMALL = "SELECT host, max(usage) AS top FROM cpu WHERE host = 'h3' GROUP BY host"
DATABASE = "bench"


def _load(http_url: str, rows: int) -> None:
    """``rows`` points over 10 hosts, in 100k-line bodies."""
    for start in range(0, rows, 100_000):
        lines = "\n".join(
            f"cpu,host=h{i % 10} usage={i % 97}.5 {1_700_000_000_000_000_000 + i}"
            for i in range(start, min(rows, start + 100_000))
        )
        answer = requests.post(
            f"{http_url}/api/v3/write_lp", params={"db": DATABASE}, data=lines, timeout=300
        )
        answer.raise_for_status()


def _ticket(sql: str) -> flight.Ticket:
    return flight.Ticket(json.dumps({"database": DATABASE, "sql_query": sql}).encode())


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    """Start the server, load it, then time each target through both ports alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--large-runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "one_port.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "data", "--log-level", "warning")
        try:
            _load(server.http_url, args.rows)
            uris = {
                "flight port": server.flight_uri,
                "HTTP port": "grpc://" + server.http_url.split("://", 1)[1],
            }
            header = {"adbc.flight.sql.rpc.call_header.database": DATABASE}
            adbc = {
                port: flightsql.connect(uri, autocommit=True, db_kwargs=header)
                for port, uri in uris.items()
            }
            clients = {port: flight.FlightClient(uri) for port, uri in uris.items()}

            def adbc_query(port: str) -> Callable[[], object]:
                def run() -> object:
                    with adbc[port].cursor() as cursor:
                        cursor.execute(SMALL)
                        return cursor.fetch_arrow_table()

                return run

            def doget(port: str, sql: str) -> Callable[[], object]:
                return lambda: clients[port].do_get(_ticket(sql)).read_all()

            small: dict[tuple[str, str], Callable[[], object]] = {}
            large: dict[tuple[str, str], Callable[[], object]] = {}
            for port in uris:
                small[("adbc_driver_flightsql small query", port)] = adbc_query(port)
                small[("pyarrow.flight JSON ticket small query", port)] = doget(port, SMALL)
                large[(f"pyarrow.flight DoGet {args.rows} rows", port)] = doget(
                    port, "SELECT * FROM cpu"
                )
            samples: dict[tuple[str, str], list[float]] = {k: [] for k in {**small, **large}}
            for targets, runs in ((small, args.runs), (large, args.large_runs)):
                for action in list(targets.values()) * min(args.warmup, runs):
                    action()
                order = list(targets.items())
                for i in range(runs):
                    for name, action in order if i % 2 else reversed(order):
                        samples[name].append(_timed(action))
            for conn in adbc.values():
                conn.close()
            for client in clients.values():
                client.close()
        finally:
            server.stop()
    medians = {name: statistics.median(s) * 1e3 for name, s in samples.items()}
    print(f"\nmedian of alternating runs ({args.runs} small, {args.large_runs} large)\n")
    print("| client, query | flight port ms | HTTP port ms | HTTP / flight |")
    print("|---|---:|---:|---:|")
    results = {}
    for what in dict.fromkeys(name for name, _ in medians):
        base, shared = medians[(what, "flight port")], medians[(what, "HTTP port")]
        results[what] = {"flight_port_ms": base, "http_port_ms": shared, "ratio": shared / base}
        print(f"| {what} | {base:.2f} | {shared:.2f} | {shared / base:.3f}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
