"""Fuzz one real server over HTTP and Flight, then check it kept every acknowledged row.

One server for the module (``flight_iox.launcher``), auth off. Every fuzzed HTTP
request must answer below 500 (501 "not supported" is a deliberate answer) without a
traceback, every fuzzed Flight call must fail, if it fails, with a status other than
INTERNAL (or UNKNOWN carrying "internal error"), nothing may hang (timeouts), and
``/health`` must answer after each. Writes to the ``ledger`` database, which no other
fuzzed request names, have one series per line: the rows of every acknowledged write
are counted, and at the end (and again after a restart) the table holds exactly them.
What is sent is built in ``tests/fuzz/server_calls.py``.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from flight_iox.launcher import RunningServer, start_server
from tests.fuzz.conftest import budget
from tests.fuzz.server_calls import (
    FLIGHT_CALLS,
    LEDGER,
    TIMEOUT,
    FlightCall,
    Request,
    arrow_puts,
    flight_options,
    is_internal_error,
    requests_,
    run_flight_call,
)


@dataclass
class Ledger:
    """Rows of acknowledged writes to LEDGER (one series per row)."""

    rows: int = 0
    ids: Iterator[int] = field(default_factory=itertools.count)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("fuzz") / "data",
        "--no-persist-on-shutdown",
        "--max-request-bytes",
        "1MiB",
    )
    seed = "\n".join(
        f'cpu,host=h{i % 3} usage={i / 2},idle={i}i,ok=t,s="x{i}" {1_700_000_000 + i}'
        for i in range(20)
    )
    for database in ("fuzz", "other"):
        answer = requests.post(
            f"{running.http_url}/api/v3/write_lp",
            params={"db": database, "precision": "s"},
            data=seed,
            timeout=TIMEOUT,
        )
        assert answer.status_code == 204, answer.text
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


def _healthy(server: RunningServer) -> None:
    assert server.process.poll() is None, "the server died:\n" + server.log()[-3000:]
    assert requests.get(f"{server.http_url}/health", timeout=TIMEOUT).status_code == 200


def _send(server: RunningServer, request: Request) -> requests.Response:
    return requests.request(
        request.method,
        server.http_url + request.path,
        params=request.query,
        headers=request.headers,
        data=request.body,
        timeout=TIMEOUT,
    )


@settings(max_examples=budget(ci=60, deep=3_000))
@given(requests_())
def test_fuzzed_http_requests_get_client_errors(server: RunningServer, request: Request) -> None:
    answer = _send(server, request)
    assert answer.status_code < 500 or answer.status_code == 501, answer.text[:2000]
    assert "Traceback" not in answer.text
    _healthy(server)


# Each field key keeps one type: a type conflict would reject the whole write.
_LEDGER_VALUES = {
    "a": ["1", "-2.5", "1e3", "0.0001"],
    "b": ["3i", "-4i", "9223372036854775807i"],
    "c": ["t", "F", "true"],
    "s": ['"x y"', '"é"', '""', '"a\\"b"'],
}
_LEDGER_FIELDS = st.sets(st.sampled_from(sorted(_LEDGER_VALUES)), min_size=1).flatmap(
    lambda keys: st.fixed_dictionaries({k: st.sampled_from(_LEDGER_VALUES[k]) for k in keys})
)
_LEDGER_LINES = st.lists(
    st.tuples(_LEDGER_FIELDS, st.integers(0, 2_000_000_000)), min_size=1, max_size=30
)
_BAD_LINES = ["", "acked,id=bad a=x", "acked,id=bad b=1.5", "acked a=1 1 2", "\\"]


@settings(max_examples=budget(ci=20, deep=500))
@given(
    _LEDGER_LINES,
    st.sampled_from(
        [("/api/v3/write_lp", {"accept_partial": "false"}), ("/api/v2/write", {}), ("/write", {})]
    ),
    st.sampled_from(["", "ns", "us", "ms", "s", "auto"]),
    st.booleans(),
    st.sampled_from(_BAD_LINES),
)
def test_acknowledged_writes_are_counted(
    server: RunningServer,
    ledger: Ledger,
    lines: list[tuple[dict[str, str], int]],
    endpoint: tuple[str, dict[str, str]],
    precision: str,
    zipped: bool,
    bad_line: str,
) -> None:
    """All-or-nothing writes whose every line is its own series: a 204 adds every line."""
    text = [
        f"acked,id=w{next(ledger.ids)} {','.join(f'{k}={v}' for k, v in fields.items())} {ts}"
        for fields, ts in lines
    ]
    body = "\n".join([*text, bad_line]).encode()
    path, flags = endpoint
    params = {"db" if path != "/api/v2/write" else "bucket": LEDGER, **flags}
    if precision:
        params["precision"] = precision
    headers = {"Content-Encoding": "gzip"} if zipped else {}
    answer = requests.post(
        server.http_url + path,
        params=params,
        data=gzip.compress(body) if zipped else body,
        headers=headers,
        timeout=TIMEOUT,
    )
    assert answer.status_code in (204, 400), answer.text[:2000]
    if answer.status_code == 204:
        ledger.rows += len(lines)


def _flight_client(server: RunningServer) -> flight.FlightClient:
    return flight.FlightClient(server.flight_uri)


@settings(max_examples=budget(ci=60, deep=3_000))
@given(FLIGHT_CALLS)
def test_fuzzed_flight_calls_get_client_errors(server: RunningServer, call: FlightCall) -> None:
    with _flight_client(server) as client:
        try:
            run_flight_call(client, call)
        except (flight.FlightError, pa.ArrowException, OSError) as error:
            assert not is_internal_error(error), f"{type(error).__name__}: {error}"
    _healthy(server)


@settings(max_examples=budget(ci=25, deep=2_000))
@given(arrow_puts())
def test_fuzzed_arrow_puts_get_client_errors(
    server: RunningServer, put: tuple[flight.FlightDescriptor, pa.RecordBatch]
) -> None:
    descriptor, batch = put
    with _flight_client(server) as client:
        try:
            writer, reader = client.do_put(descriptor, batch.schema, flight_options(None, []))
            writer.write_batch(batch)
            writer.done_writing()
            reader.read()
            writer.close()
        except (flight.FlightError, pa.ArrowException, OSError) as error:
            assert not is_internal_error(error), f"{type(error).__name__}: {error}"
    _healthy(server)


def _ledger_count(server: RunningServer) -> int:
    answer = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": LEDGER, "q": "SELECT count(*) AS n FROM acked", "format": "json"},
        timeout=TIMEOUT,
    )
    if answer.status_code == 404:  # no write was ever acknowledged
        return 0
    if answer.status_code != 200:  # keep the server's traceback with the failure
        tail = server.log()[-6000:]
        (server.data_dir.parent / "ledger-failure.log").write_text(tail)
        raise AssertionError(f"{answer.status_code} {answer.text}\n{tail}")
    return int(answer.json()[0]["n"])


def test_acknowledged_rows_are_all_there_after_the_fuzzing(
    server: RunningServer, ledger: Ledger
) -> None:
    """Runs after the fuzzing: whatever it did, the ledger lost nothing, and nothing failed."""
    print(f"ledger: {ledger.rows} acknowledged rows")  # shown with -s
    assert _ledger_count(server) == ledger.rows
    unexpected = [line for line in server.log().splitlines() if "unexpected error" in line]
    assert not unexpected, "\n".join(unexpected[:20])


@pytest.mark.slow
def test_acknowledged_rows_are_all_there_after_a_restart(
    server: RunningServer, ledger: Ledger
) -> None:
    """Runs last (slow: a stop and a start): the WAL and the catalog kept every row."""
    assert server.stop() == 0
    restarted = start_server(server.data_dir, "--max-request-bytes", "1MiB")
    try:
        assert _ledger_count(restarted) == ledger.rows
    finally:
        restarted.stop()
