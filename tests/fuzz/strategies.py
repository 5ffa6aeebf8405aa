"""Hypothesis strategies shared by the fuzz tests: mutations, JSON, query texts, Flight bytes."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import strategies as st

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import StatementHandle
from flight_iox.flightsql.server import COMMAND_HANDLERS

Edit = tuple[int, int, int]  # (position, 0 replace / 1 insert / 2 cut, byte)

EDITS = st.lists(
    st.tuples(st.integers(0, 4096), st.integers(0, 2), st.integers(0, 255)), max_size=5
)


def mutated(data: bytes, edits: list[Edit]) -> bytes:
    """``data`` with bytes replaced, inserted or cut, positions taken modulo its length."""
    out = bytearray(data)
    for position, what, byte in edits:
        at = position % (len(out) + 1)
        if what == 0 and out:
            out[at % len(out)] = byte
        elif what == 1:
            out.insert(at, byte)
        else:
            del out[at:]
    return bytes(out)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "fuzz", "../x", "1h", "json", "SELECT 1", 2**70]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

SQL_TOKENS = [
    "SELECT", "*", "FROM", "cpu", "fuzz.iox.cpu", "other.iox.cpu", '"fuzz"."iox"."cpu"',
    "information_schema.tables", "system.queries", "WHERE", "time", ">", "now()", "-",
    "INTERVAL '1 hour'", "GROUP BY", "host", "ORDER BY", "LIMIT", "1", "$1", "$2", "?", "'x'",
    "E'\\''", "$$a$$", "--c\n", "/*", "*/", "(", ")", ",", ";", "count(*)", "avg(usage)",
    "DELETE", "DROP TABLE", "CREATE TABLE", "INSERT INTO", "VALUES", "UNION", "WITH", "AS",
    "date_bin(INTERVAL '1 minute', time)", "CAST(", "AS BIGINT", "'", '"', "é", "\x00",
    "9999999999999999999999", "1e400", "array_agg", "generate_series(1, 3)",
]  # fmt: skip
SQL_SEEDS = [
    "SELECT * FROM cpu",
    "SELECT host, avg(usage) FROM cpu WHERE time > now() - INTERVAL '1 day' GROUP BY host",
    "SELECT $1 AS a, $2 AS b",
    "SELECT count(*) FROM information_schema.tables",
    "SELECT * FROM fuzz.iox.cpu UNION ALL SELECT * FROM cpu LIMIT 3",
]
SQL_TEXTS = (
    st.lists(st.sampled_from(SQL_TOKENS), max_size=25).map(" ".join)
    | st.sampled_from(SQL_SEEDS)
    | st.text(max_size=60)
)
INFLUXQL_SEEDS = [
    "SELECT mean(usage) FROM cpu WHERE time > now() - 1h GROUP BY time(1m), host fill(0)",
    'SELECT * FROM "fuzz".."cpu" LIMIT 2',
    "SHOW MEASUREMENTS; SHOW TAG KEYS FROM cpu; SHOW FIELD KEYS",
    "SHOW TAG VALUES FROM cpu WITH KEY = host",
    "SHOW DATABASES",
    "SELECT usage INTO other..copy FROM cpu",
    "SELECT count(usage) FROM /c.*/ WHERE host =~ /^a/",
    "CREATE DATABASE fuzz2",
    "SHOW SERIES CARDINALITY",
]
INFLUXQL_TOKENS = [
    "SELECT", "FROM", "WHERE", "GROUP BY", "INTO", "SHOW", "TAG", "VALUES", "KEYS", "WITH", "KEY",
    "ON", "LIMIT", "OFFSET", "SLIMIT", "fill(", "ORDER BY", "time", "DESC", "DISTINCT", "AS",
    "MEASUREMENTS", "SERIES", "FIELD", "CARDINALITY", "DATABASE", "EXPLAIN", "tz(", "AND", "OR",
    "mean(", "count(", "percentile(", "top(", "(", ")", ",", ";", "..", "::field", "=~", "=",
    "<>", "+", "*", "/", "'s'", '"q"', "/re/", "/(.|.)*!/", "1", "1.5", "10s", "1h30m",
    "now()", "-", "cpu", "usage", "host", "fuzz", "other", "é",
]  # fmt: skip
INFLUXQL_TEXTS = (
    st.lists(st.sampled_from(INFLUXQL_TOKENS), max_size=25).map(" ".join)
    | st.sampled_from(INFLUXQL_SEEDS)
    | st.text(max_size=60)
)

PARAMS_BATCH = pa.record_batch({"0": pa.array([1.5]), "1": pa.array(["x"])})
VALID_HANDLES = [
    StatementHandle("fuzz", "SELECT * FROM cpu").encode(),
    StatementHandle(None, "SELECT $1, $2", PARAMS_BATCH).encode(),
    StatementHandle("fuzz", "SELECT 1 AS x").with_schema(pa.schema({"x": pa.int64()})).encode(),
]
VALID_JSON_TICKETS = [
    b'{"database": "fuzz", "sql_query": "SELECT * FROM cpu", "query_type": "sql"}',
    b'{"namespace_name": "fuzz", "sql_query": "SELECT $1", "params": [1, "a", null, 2.5]}',
    b'{"database": "fuzz", "sql_query": "SHOW MEASUREMENTS", "query_type": "influxql"}',
]


def valid_commands() -> list[bytes]:
    """Every command type the server knows, empty, plus a few filled in."""
    return [pack(handler.message()) for handler in COMMAND_HANDLERS] + [
        pack(pb.CommandStatementQuery(query="SELECT * FROM cpu")),
        pack(pb.CommandPreparedStatementQuery(prepared_statement_handle=VALID_HANDLES[1])),
        pack(pb.TicketStatementQuery(statement_handle=VALID_HANDLES[0])),
        pack(pb.CommandGetTables(catalog="fuzz", table_types=["table"], include_schema=True)),
        pack(pb.CommandGetPrimaryKeys(catalog="fuzz", table="cpu")),
        pack(pb.CommandStatementUpdate(query="DELETE FROM cpu WHERE host = 'zz'")),
        pack(pb.CommandStatementIngest(table="ingested", catalog="fuzz")),
        pack(pb.CommandGetSqlInfo(info=[0, 1, 500, 2**31])),
    ]


_TICKET_KEYS = ["database", "namespace_name", "sql_query", "query_type", "params", "table", "tags"]
JSON_TICKETS = st.fixed_dictionaries(
    {"sql_query": SQL_TEXTS | INFLUXQL_TEXTS},
    optional={key: JSON_VALUES for key in _TICKET_KEYS if key != "sql_query"}
    | {"query_type": st.sampled_from(["sql", "influxql", "SQL", "x"]), "database": st.just("fuzz")},
).map(lambda body: json.dumps(body).encode())
NESTED_JSON = st.integers(1, 50_000).map(lambda n: b'{"params": ' + b"[" * n + b"]" * n + b"}")
FLIGHT_BYTES = (
    st.binary(max_size=120)
    | st.builds(mutated, st.sampled_from(VALID_JSON_TICKETS + valid_commands()), EDITS)
    | st.sampled_from(VALID_JSON_TICKETS + valid_commands())
    | JSON_TICKETS
    | NESTED_JSON
)
