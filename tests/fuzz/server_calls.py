"""What the server fuzz sends: HTTP requests, Flight calls and Arrow puts, as strategies.

Each strategy starts from a plausible request and bends it (parameters dropped, replaced
or repeated, bodies swapped, names hostile), so that the fuzz reaches the handlers past
the first validation. ``tests/fuzz/test_server_fuzz.py`` sends them to one real server.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.flight as flight
from hypothesis import strategies as st

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
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


def flight_options(
    database: str | None, extra_headers: list[tuple[bytes, bytes]]
) -> flight.FlightCallOptions:
    headers = [] if database is None else [(b"database", database.encode())]
    return flight.FlightCallOptions(timeout=TIMEOUT, headers=headers + extra_headers)


def is_internal_error(error: Exception) -> bool:
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


def run_flight_call(
    client: flight.FlightClient, call: FlightCall, extra_headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    options = flight_options(call.database, list(extra_headers))
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
