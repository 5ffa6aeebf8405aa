"""Fuzz one real server over HTTP and Flight, then check it kept every acknowledged row.

One server for the module (``flight_iox.launcher``), auth off. Every fuzzed HTTP
request must answer below 500 (501 "not supported" is a deliberate answer) without a
traceback, every fuzzed Flight call must fail, if it fails, with a status other than
INTERNAL (or UNKNOWN carrying "internal error"), nothing may hang (timeouts), and
``/health`` must answer after each. Writes to the ``ledger`` database, which no other
fuzzed request names, have one series per line: the rows of every acknowledged write
are counted, and at the end (and again after a restart) the table holds exactly them.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server
from tests.fuzz.conftest import budget
from tests.fuzz.strategies import (
    EDITS,
    FLIGHT_BYTES,
    INFLUXQL_TEXTS,
    JSON_VALUES,
    SQL_TEXTS,
    mutated,
)
from tests.fuzz.test_line_protocol_fuzz import RAW_BODIES, SIMPLE_BODIES, TOKEN_BODIES

TIMEOUT = 60  # seconds; a fuzzed request that takes longer counts as a hang
LEDGER = "ledger"
# Database names fuzzed requests use: valid, odd, invalid and hostile; never LEDGER.
DATABASES = ["fuzz", "other", "missing", "", "../../x", "a/b", "..", "system", "iox", "a" * 65,
             "é", "\x00", "fuzz\n", " fuzz", "FUZZ", "fuzz/**/", "\ud800"]  # fmt: skip
ROUTES = [
    ("POST", "/api/v3/write_lp"), ("POST", "/api/v2/write"), ("POST", "/write"),
    ("GET", "/api/v3/query_sql"), ("POST", "/api/v3/query_sql"),
    ("GET", "/api/v3/query_influxql"), ("POST", "/api/v3/query_influxql"),
    ("GET", "/query"), ("POST", "/query"),
    ("GET", "/api/v3/configure/database"), ("POST", "/api/v3/configure/database"),
    ("PUT", "/api/v3/configure/database"), ("DELETE", "/api/v3/configure/database"),
    ("POST", "/api/v3/persist"), ("POST", "/api/v3/compact"),
    ("GET", "/api/v3/configure/catalog"), ("POST", "/api/v3/configure/token/admin"),
    ("GET", "/api/v3/configure/token"), ("POST", "/api/v3/configure/token"),
    ("DELETE", "/api/v3/configure/token"), ("GET", "/health"), ("GET", "/ping"),
    ("PATCH", "/api/v3/query_sql"), ("GET", "/api/v3/nope"), ("GET", "/%2e%2e/x"),
]  # fmt: skip
_TEXT = st.text(max_size=12)
PARAMETERS: dict[str, st.SearchStrategy[object]] = {
    "db": st.sampled_from(DATABASES) | _TEXT,
    "bucket": st.sampled_from(DATABASES),
    "org": _TEXT,
    "precision": st.sampled_from(
        ["ns", "n", "us", "u", "µs", "ms", "s", "m", "h", "auto", "second", "", "x", "NS", "1"]
    ),
    "accept_partial": st.sampled_from(["true", "false", "1", "0", "yes", "t", "", "maybe", "2"]),
    "no_sync": st.sampled_from(["true", "false", "TRUE", "no", "", "x"]),
    "format": st.sampled_from(["json", "jsonl", "csv", "parquet", "pretty", "", "xml", "JSON"]),
    "q": SQL_TEXTS | INFLUXQL_TEXTS,
    "params": JSON_VALUES,
    "epoch": st.sampled_from(["ns", "u", "µ", "ms", "s", "m", "h", "", "x"]),
    "chunked": st.sampled_from(["true", "false", "", "x"]),
    "chunk_size": st.sampled_from(["1", "0", "-1", "abc", "99999999999999999999", ""]),
    "pretty": st.sampled_from(["true", "false", "x"]),
    "retention_period": st.sampled_from(
        ["1d", "30d", "none", "0", "-1", "1h30m", "x", "9" * 30 + "d", 5, -5, 1.5, None, [], {}]
    ),
    "name": st.sampled_from(["t1", "", "_admin", "../x", "\ud800"]) | _TEXT,
    "permissions": JSON_VALUES,
    "rp": _TEXT,
}
HEADERS = st.dictionaries(
    st.sampled_from(["Accept", "Content-Type", "Authorization", "Content-Encoding"]),
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/csv",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/vnd.apache.parquet",
            "*/*",
            "gzip",
            "br",
            "Bearer x",
            "Token y",
            "Basic !!",
            "",
        ]
    ),
    max_size=3,
)


@dataclass
class Request:
    """One fuzzed HTTP request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None

    def __repr__(self) -> str:  # what a failing example prints
        return (
            f"{self.method} {self.path}?{urlencode(self.query)} {self.headers} {self.body!r:.300}"
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _safe(text: str) -> str:
    """A query-string value requests can send (lone surrogates cannot be encoded)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


# A plausible request per route, which the fuzzing then bends: parameters dropped,
# replaced or repeated, and the body swapped.
_SQL = "SELECT host, avg(usage) AS u FROM cpu GROUP BY host"
_INFLUXQL = "SELECT mean(usage) FROM cpu GROUP BY host"
BASE_PARAMETERS: dict[str, dict[str, str]] = {
    "/api/v3/write_lp": {"db": "fuzz", "precision": "s"},
    "/api/v2/write": {"bucket": "fuzz", "precision": "s"},
    "/write": {"db": "fuzz", "precision": "s"},
    "/api/v3/query_sql": {"db": "fuzz", "q": _SQL, "format": "json"},
    "/api/v3/query_influxql": {"db": "fuzz", "q": _INFLUXQL, "format": "json"},
    "/query": {"db": "fuzz", "q": _INFLUXQL, "epoch": "ms"},
    "/api/v3/configure/database": {"db": "made"},
    "/api/v3/configure/token": {"name": "t1"},
}


@st.composite
def requests_(draw: st.DrawFn) -> Request:
    method, path = draw(st.sampled_from(ROUTES))
    base = BASE_PARAMETERS.get(path, {}) if draw(st.booleans()) else {}
    keys = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=5))
    fuzzed = [(key, _safe(_text(draw(PARAMETERS[key])))) for key in keys]
    if draw(st.booleans()):  # replace the base values (else repeat the keys: db=a&db=b)
        base = {k: v for k, v in base.items() if k not in keys}
    query = [*base.items(), *fuzzed]
    names = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=4))
    fields = {**base, **{key: draw(PARAMETERS[key]) for key in names}}
    headers = draw(HEADERS)
    body_kind = draw(st.sampled_from(["none", "lp", "json", "nested", "form", "bytes", "gzip"]))
    body: bytes | None
    if body_kind == "lp":
        body = draw(SIMPLE_BODIES | TOKEN_BODIES | RAW_BODIES)
    elif body_kind == "json":
        body = json.dumps(fields).encode()  # lone surrogates become "\ud800" escapes
    elif body_kind == "nested":
        depth = draw(st.integers(1, 50_000))
        body = b'{"q": ' + b"[" * depth + b"]" * depth + b"}"
    elif body_kind == "form":
        body = urlencode({k: _safe(_text(v)) for k, v in fields.items()}).encode()
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    elif body_kind == "bytes":
        body = draw(st.binary(max_size=100))
    elif body_kind == "gzip":
        body = mutated(gzip.compress(draw(SIMPLE_BODIES)), draw(EDITS))
        headers = {**headers, "Content-Encoding": "gzip"}
    else:
        body = None
    return Request(method, path, query, headers, body)


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


def _options(
    database: str | None, extra_headers: list[tuple[bytes, bytes]]
) -> flight.FlightCallOptions:
    headers = [] if database is None else [(b"database", database.encode())]
    return flight.FlightCallOptions(timeout=TIMEOUT, headers=headers + extra_headers)


def _is_internal(error: Exception) -> bool:
    if isinstance(error, flight.FlightInternalError | flight.FlightTimedOutError):
        return True
    return isinstance(error, flight.FlightServerError) and "internal error" in str(error).lower()


@dataclass
class FlightCall:
    """One fuzzed Flight call."""

    rpc: str
    data: bytes
    database: str | None
    action: str = ""

    def __repr__(self) -> str:
        return f"{self.rpc}({self.action} {self.data!r:.400}, database={self.database!r})"


_ACTIONS = [
    "CreatePreparedStatement", "ClosePreparedStatement", "CancelQuery", "SetSessionOptions",
    "GetSessionOptions", "CloseSession", "CancelFlightInfo", "Nope", "",
]  # fmt: skip
FLIGHT_CALLS = st.builds(
    FlightCall,
    st.sampled_from(["do_get", "get_flight_info", "get_schema", "do_action", "do_put", "path"]),
    FLIGHT_BYTES,
    st.none() | st.sampled_from([d for d in DATABASES if d.isascii() and d.isprintable()]),
    st.sampled_from(_ACTIONS),
)


def _run(
    client: flight.FlightClient, call: FlightCall, extra_headers: list[tuple[bytes, bytes]] = ()
) -> None:
    options = _options(call.database, list(extra_headers))
    if call.rpc == "do_get":
        client.do_get(flight.Ticket(call.data), options).read_all()
    elif call.rpc in ("get_flight_info", "get_schema", "path"):
        descriptor = (
            flight.FlightDescriptor.for_path(call.data.decode("utf-8", "replace"), "cpu")
            if call.rpc == "path"
            else flight.FlightDescriptor.for_command(call.data)
        )
        if call.rpc == "get_schema":
            client.get_schema(descriptor, options)
            return
        info = client.get_flight_info(descriptor, options)
        for endpoint in info.endpoints:
            client.do_get(endpoint.ticket, options).read_all()
    elif call.rpc == "do_action":
        list(client.do_action(flight.Action(call.action, call.data), options))
    else:
        batch = pa.record_batch({"host": pa.array(["a"]), "v": pa.array([1.0])})
        descriptor = flight.FlightDescriptor.for_command(call.data)
        writer, reader = client.do_put(descriptor, batch.schema, options)
        writer.write_batch(batch)
        writer.done_writing()
        reader.read()
        writer.close()


@settings(max_examples=budget(ci=60, deep=3_000))
@given(FLIGHT_CALLS)
def test_fuzzed_flight_calls_get_client_errors(server: RunningServer, call: FlightCall) -> None:
    with _flight_client(server) as client:
        try:
            _run(client, call)
        except (flight.FlightError, pa.ArrowException, OSError) as error:
            assert not _is_internal(error), f"{type(error).__name__}: {error}"
    _healthy(server)


_ARROW_TYPES = [
    pa.float64(), pa.int64(), pa.uint64(), pa.bool_(), pa.string(), pa.large_string(),
    pa.binary(), pa.int8(), pa.float16(), pa.null(), pa.timestamp("ns"), pa.timestamp("s"),
    pa.timestamp("ns", "UTC"), pa.date32(), pa.decimal128(5, 2), pa.list_(pa.int64()),
    pa.struct([("a", pa.int64())]), pa.dictionary(pa.int32(), pa.string()),
    pa.dictionary(pa.int8(), pa.int64()), pa.string_view(), pa.duration("ns"),
]  # fmt: skip
_COLUMN_NAMES = ["time", "host", "v", "", " ", "..", "a/b", "é", "\x01", '"q"', "iox::x", "v"]
_TABLE_NAMES = ["put", "../../escape", "..", "", "a/b", "é", "\x00", "x" * 600, "cpu"]


def _column(arrow_type: pa.DataType, rows: int) -> pa.Array:
    """``rows`` values of ``arrow_type`` (nulls where a type has no simple value)."""
    values = {
        "bool": [True] * rows,
        "string": ["x"] * rows,
        "large_string": ["x"] * rows,
        "string_view": ["x"] * rows,
        "binary": [b"\xff"] * rows,
        "halffloat": None,
        "date32[day]": None,
        "null": None,
    }.get(str(arrow_type), list(range(rows)))
    try:
        if pa.types.is_dictionary(arrow_type):
            return (
                pa.array(
                    ["a"] * rows if arrow_type.value_type == pa.string() else list(range(rows))
                )
                .dictionary_encode()
                .cast(arrow_type)
            )
        return pa.array(values, arrow_type) if values is not None else pa.nulls(rows, arrow_type)
    except (pa.ArrowException, TypeError):
        return pa.nulls(rows, arrow_type)


@st.composite
def arrow_puts(draw: st.DrawFn) -> tuple[flight.FlightDescriptor, pa.RecordBatch]:
    table = draw(st.sampled_from(_TABLE_NAMES))
    database = draw(st.sampled_from(["fuzz", "other", "../x", "", "put-db"]))
    kind = draw(st.sampled_from(["path", "json", "ingest"]))
    if kind == "path":
        descriptor = flight.FlightDescriptor.for_path(database, table)
    elif kind == "json":
        tags = draw(st.lists(st.sampled_from(_COLUMN_NAMES), max_size=2))
        command = json.dumps({"database": database, "table": table, "tags": tags})
        descriptor = flight.FlightDescriptor.for_command(command.encode())
    else:
        command = pb.CommandStatementIngest(table=table, catalog=database)
        descriptor = flight.FlightDescriptor.for_command(pack(command))
    names = draw(st.lists(st.sampled_from(_COLUMN_NAMES), min_size=1, max_size=4))
    types = [draw(st.sampled_from(_ARROW_TYPES)) for _ in names]
    rows = draw(st.integers(0, 3))
    columns = [_column(t, rows) for t in types]
    return descriptor, pa.RecordBatch.from_arrays(columns, names=names)


@settings(max_examples=budget(ci=25, deep=2_000))
@given(arrow_puts())
def test_fuzzed_arrow_puts_get_client_errors(
    server: RunningServer, put: tuple[flight.FlightDescriptor, pa.RecordBatch]
) -> None:
    descriptor, batch = put
    with _flight_client(server) as client:
        try:
            writer, reader = client.do_put(descriptor, batch.schema, _options(None, []))
            writer.write_batch(batch)
            writer.done_writing()
            reader.read()
            writer.close()
        except (flight.FlightError, pa.ArrowException, OSError) as error:
            assert not _is_internal(error), f"{type(error).__name__}: {error}"
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
