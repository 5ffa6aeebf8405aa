"""Fixed cost per query over ADBC: flight-iox against a trivial Flight SQL server, same run.

    python bench/query_overhead.py [--runs 200] [--hosts 100] [--hours 3]

Two clients, both ADBC's DB-API (``cursor.execute`` + ``fetch_arrow_table`` + close):

- ``adbc_driver_flightsql`` as it comes: every new SQL text is prepared, so a query is
  CreatePreparedStatement, GetFlightInfo, DoGet and ClosePreparedStatement;
- this project's ``adbc_driver_flight_iox`` (what bench/tsbs.py uses): a query without
  parameters runs unprepared, GetFlightInfo and DoGet only.

Three targets per client, measured alternately, median latency of each:

- the trivial server: a ``pyarrow.flight`` server in its own process that answers those
  four RPCs with a constant one-row result (no planning, no storage): the floor that
  ADBC plus a Python Flight server cost;
- flight-iox, ``SELECT 1``;
- flight-iox, TSBS ``single-groupby-1-1-1`` (one host, one hour, max per minute) over
  100 hosts x 3 h, persisted and compacted (so it reads Parquet).

Prints each median, its ratio to the trivial server with the same client, and the ratio of
the project's driver to plain ADBC; and the server's CPU per query of each target (the
server process's user + system time across each query, from ``/proc``: Linux only; clock
ticks, so only the sum over many queries means anything). On a machine whose cores other
work keeps busy, waits for a core swamp the latency, while CPU per query stays comparable
between runs. Writes bench/results/query_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adbc_driver_flight_iox import dbapi  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.storage import admin, load, run  # noqa: E402
from bench.tsbs_queries import tsbs_queries  # noqa: E402
from flight_iox.flightsql.generated import FlightSql_pb2 as pb  # noqa: E402
from flight_iox.flightsql.schemas import SQL_INFO  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

CONSTANT = pa.table({"one": pa.array([1], pa.int64())})


def _pack(message: object) -> bytes:
    from google.protobuf import any_pb2

    wrapper = any_pb2.Any()
    wrapper.Pack(message)
    return wrapper.SerializeToString()


class ConstantServer(flight.FlightServerBase):
    """Answers the four RPCs of an ADBC query with a constant, no planning, no middleware."""

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        """CreatePreparedStatement: a fixed handle and the constant's schema; close: nothing."""
        if action.type == "CreatePreparedStatement":
            result = pb.ActionCreatePreparedStatementResult(
                prepared_statement_handle=b"h",
                dataset_schema=CONSTANT.schema.serialize().to_pybytes(),
            )
            return [_pack(result)]
        return []

    def get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """One endpoint with a fixed ticket (ADBC asks for SQL info first: none is known)."""
        if b"CommandGetSqlInfo" in descriptor.command:
            endpoint = flight.FlightEndpoint(b"sql-info", [])
            return flight.FlightInfo(SQL_INFO, descriptor, [endpoint], -1, -1)
        ticket = _pack(pb.TicketStatementQuery(statement_handle=b"h"))
        endpoint = flight.FlightEndpoint(ticket, [])
        return flight.FlightInfo(CONSTANT.schema, descriptor, [endpoint], -1, -1)

    def do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        """The constant."""
        if ticket.ticket == b"sql-info":
            return flight.RecordBatchStream(SQL_INFO.empty_table())
        return flight.RecordBatchStream(CONSTANT)


def _serve(port: multiprocessing.Queue) -> None:
    server = ConstantServer("grpc://127.0.0.1:0")
    port.put(server.port)
    server.serve()


CLIENTS = ("adbc_driver_flightsql", "adbc_driver_flight_iox")
TRIVIAL = "trivial server (constant)"


def _query(conn: flightsql.Connection, sql: str) -> float:
    start = time.perf_counter()
    run(conn, sql)
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads, ended ones too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    """Start both servers, check the answers, then time the three targets alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "query_overhead.json"
    )
    parser.add_argument("--png", type=Path, help="also plot the medians (bench/plot_overhead.py)")
    parser.add_argument("--smoke", action="store_true", help="3 hosts x 1 h, 5 runs (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.hosts, args.hours, args.runs, args.warmup = 3, 1, 5, 2
    if not GENERATOR.exists():
        print("skipped: needs ../shared/tsbs/gen_cpu.py")
        return
    single = next(q for q in tsbs_queries(args.hosts, args.hours) if q.name.endswith("1-1-1"))
    queue: multiprocessing.Queue = multiprocessing.Queue()
    trivial = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    trivial.start()
    port = queue.get(timeout=30)
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        server = start_server(Path(folder) / "data", "--log-level", "warning")
        try:
            load(server, bodies)
            admin(server, "/api/v3/persist")
            admin(server, "/api/v3/compact")
            trivial_uri = f"grpc://127.0.0.1:{port}"
            header = {"adbc.flight.sql.rpc.call_header.database": "tsbs"}
            connections = {
                "adbc_driver_flightsql": (
                    flightsql.connect(trivial_uri, autocommit=True),
                    flightsql.connect(server.flight_uri, autocommit=True, db_kwargs=header),
                ),
                "adbc_driver_flight_iox": (
                    dbapi.connect(trivial_uri, database="tsbs"),
                    dbapi.connect(server.flight_uri, database="tsbs"),
                ),
            }
            _check_answers(connections, single.sql)
            targets = {}
            pids = {}
            for client, (base, conn) in connections.items():
                targets[(client, TRIVIAL)] = (base, "SELECT 1")
                targets[(client, "flight-iox SELECT 1")] = (conn, "SELECT 1")
                targets[(client, "flight-iox single-groupby-1-1-1")] = (conn, single.sql)
                pids[(client, TRIVIAL)] = trivial.pid
            samples: dict[tuple[str, str], list[float]] = {name: [] for name in targets}
            cpu: dict[tuple[str, str], float] = {name: 0.0 for name in targets}
            for _ in range(args.warmup):
                for c, sql in targets.values():
                    _query(c, sql)
            for i in range(args.runs):
                order = list(targets.items())
                for name, (c, sql) in order if i % 2 else reversed(order):
                    pid = pids.get(name, server.process.pid)
                    before = cpu_seconds(pid)
                    samples[name].append(_query(c, sql))
                    cpu[name] += cpu_seconds(pid) - before
            for pair in connections.values():
                for c in pair:
                    c.close()
        finally:
            server.stop()
            trivial.terminate()
    medians = {name: statistics.median(s) * 1e3 for name, s in samples.items()}
    print(f"\nADBC DB-API, median of {args.runs} alternating runs\n")
    cpu_ms = {name: seconds * 1e3 / args.runs for name, seconds in cpu.items()}
    print("| client | target | median ms | / trivial server | / adbc_driver_flightsql "
          "| server CPU ms/query | / trivial server |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for (client, target), ms in medians.items():
        floor = medians[(client, TRIVIAL)]
        plain = medians[(CLIENTS[0], target)]
        spent, floor_cpu = cpu_ms[(client, target)], cpu_ms[(client, TRIVIAL)]
        print(
            f"| {client} | {target} | {ms:.2f} | {ms / floor:.2f}x | {ms / plain:.2f}x "
            f"| {spent:.2f} | {f'{spent / floor_cpu:.2f}x' if floor_cpu else 'n/a'} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{client}: {target}": ms for (client, target), ms in medians.items()}
    flat_cpu = {f"{client}: {target}": ms for (client, target), ms in cpu_ms.items()}
    summary = {"runs": args.runs, "median_ms": flat, "server_cpu_ms": flat_cpu}
    args.out.write_text(json.dumps(summary, indent=2))
    if args.png is not None:
        from bench.plot_overhead import plot_overhead

        plot_overhead(summary, args.png)
        print(f"wrote {args.png}")


def _check_answers(connections: dict[str, tuple[Any, Any]], single_sql: str) -> None:
    """Both clients get ``SELECT 1``'s one row from each server, and the same TSBS rows from
    flight-iox: a wrong answer fails the run before anything is timed."""
    answers = []
    for client, pair in connections.items():
        for conn in pair:
            one = run(conn, "SELECT 1")
            if one.num_rows != 1 or one.column(0)[0].as_py() != 1:
                raise SystemExit(f"{client}: SELECT 1 answered {one.to_pylist()}")
        answers.append(sorted(run(pair[1], single_sql).to_pylist(), key=repr))
    if not answers[0] or any(rows != answers[0] for rows in answers):
        raise SystemExit("the two clients got different single-groupby-1-1-1 rows (or none)")


if __name__ == "__main__":
    main()
