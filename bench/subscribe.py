"""Subscription latency: from a write's acknowledgement to its row reaching a subscriber.

    python bench/subscribe.py [--writes 300] [--interval 0.02] [--poll 0.05]

A real server (``flight_iox.launcher``) and, in this process, three subscribers of the
same table: a Flight stream (the subscribe ticket, with a ``where`` predicate and a
projection, through ``adbc_driver_flight_iox.subscribe``), a push subscription
(``CREATE SUBSCRIPTION ... DESTINATIONS ALL``) to an HTTP receiver on loopback, and the
baseline a client without subscriptions has: polling ``SELECT ... WHERE n > last`` over
HTTP every ``--poll`` seconds. One row per write, ``--interval`` apart; a write's
acknowledgement is the moment its HTTP 204 is read by the writer. Each subscriber stamps
the row's arrival; the latency is arrival minus acknowledgement (a row can arrive
before the writer has read its 204, so a latency may be slightly negative).

Prints p50/p90/p99 per subscriber and the ratio of the poll baseline's p50 to the Flight
stream's, and writes ``bench/results/subscribe.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "clients"))

from adbc_driver_flight_iox.subscribe import subscribe  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

OFFSET = 1_000_000  # rows written before the measurement (the table must exist)


def _receiver(arrivals: dict[int, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.perf_counter()
            for line in body.decode().splitlines():
                n = int(line.split(" ")[1].split("=")[1].rstrip("i"))
                arrivals.setdefault(n, now)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _follow(flight_uri: str, arrivals: dict[int, float], stop: threading.Event) -> None:
    updates = subscribe(flight_uri, "bench", "m", columns=["n"], where=f"n < {OFFSET}")
    for update in updates:
        now = time.perf_counter()
        for n in update.batch.column("n").to_pylist():
            arrivals.setdefault(n, now)
        if stop.is_set():
            return


def _poll(http_url: str, arrivals: dict[int, float], stop: threading.Event, every: float) -> None:
    session, last = requests.Session(), -1
    while not stop.is_set():
        response = session.get(
            f"{http_url}/api/v3/query_sql",
            params={"db": "bench", "q": f"SELECT n FROM m WHERE n > {last} AND n < {OFFSET}"},
            timeout=30,
        )
        now = time.perf_counter()
        for row in response.json():
            arrivals.setdefault(row["n"], now)
            last = max(last, row["n"])
        time.sleep(every)


def _summary(acks: dict[int, float], arrivals: dict[int, float]) -> dict[str, float]:
    latencies = sorted((arrivals[n] - acks[n]) * 1000 for n in acks if n in arrivals)
    q = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p90_ms": round(q[89], 2),
        "p99_ms": round(q[98], 2),
        "received": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--poll", type=float, default=0.05)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            session = requests.Session()
            url = f"{server.http_url}/write"
            session.post(url, params={"db": "bench"}, data=f"m n={OFFSET}i 0").raise_for_status()
            pushed: dict[int, float] = {}
            receiver = _receiver(pushed)
            destination = f"http://127.0.0.1:{receiver.server_address[1]}"
            session.post(
                f"{server.http_url}/query",
                params={"q": f"CREATE SUBSCRIPTION s ON bench DESTINATIONS ALL '{destination}'"},
            ).raise_for_status()
            streamed: dict[int, float] = {}
            polled: dict[int, float] = {}
            stop = threading.Event()
            threading.Thread(
                target=_follow, args=(server.flight_uri, streamed, stop), daemon=True
            ).start()
            threading.Thread(
                target=_poll, args=(server.http_url, polled, stop, args.poll), daemon=True
            ).start()
            time.sleep(2)  # the stream is open and the push cursor started
            acks: dict[int, float] = {}
            for n in range(args.writes):
                response = session.post(url, params={"db": "bench"}, data=f"m n={n}i {n + 1}")
                acks[n] = time.perf_counter()
                assert response.status_code == 204, response.text
                time.sleep(args.interval)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(len(streamed), len(pushed)) < args.writes:
                time.sleep(0.1)
            time.sleep(args.poll * 4)
            stop.set()
        finally:
            server.stop()
            receiver.shutdown()

    results = {
        "writes": args.writes,
        "interval_s": args.interval,
        "poll_every_s": args.poll,
        "flight_stream": _summary(acks, streamed),
        "push_http": _summary(acks, pushed),
        "poll_baseline": _summary(acks, polled),
    }
    flight_p50 = results["flight_stream"]["p50_ms"]  # type: ignore[index]
    poll_p50 = results["poll_baseline"]["p50_ms"]  # type: ignore[index]
    results["poll_p50_over_flight_p50"] = round(poll_p50 / max(flight_p50, 0.01), 2)
    for name in ("flight_stream", "push_http", "poll_baseline"):
        print(f"{name:14s} {results[name]}")
    print(f"poll p50 / Flight stream p50 = {results['poll_p50_over_flight_p50']}")
    out = ROOT / "bench" / "results" / "subscribe.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
