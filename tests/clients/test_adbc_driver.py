"""adbc_driver_flight_iox: options, the headers it sends, TLS, and queries on a real server."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import adbc_driver_flight_iox
from adbc_driver_flight_iox import DatabaseOptions, database_options, dbapi
from tests.certificates import Pki, self_signed

# --- options, without a server ---------------------------------------------------------------


def test_options_are_str_enums_with_the_driver_keys() -> None:
    assert isinstance(DatabaseOptions.DATABASE, str)
    assert DatabaseOptions.DATABASE == "adbc.flight.sql.rpc.call_header.database"
    assert DatabaseOptions.AUTHORIZATION_HEADER == "adbc.flight.sql.authorization_header"


def test_database_options_set_database_token_and_tls() -> None:
    options = database_options(
        database="mydb", token="secret", tls_root_certs="-----BEGIN CERTIFICATE-----\n..."
    )
    assert options == {
        "adbc.flight.sql.rpc.call_header.database": "mydb",
        "adbc.flight.sql.authorization_header": "Bearer secret",
        "adbc.flight.sql.client_option.tls_root_certs": "-----BEGIN CERTIFICATE-----\n...",
    }
    assert all(type(key) is str for key in options)


def test_conflicting_extra_option_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        database_options(database="a", extra={DatabaseOptions.DATABASE.value: "b"})


def test_database_header_at_connection_level_is_refused() -> None:
    with pytest.raises(ValueError, match=r"connect\(database=\.\.\.\)"):
        dbapi.connect(database="a", conn_kwargs={DatabaseOptions.DATABASE.value: "a"})


def test_connect_is_exposed_at_package_level() -> None:
    assert adbc_driver_flight_iox.connect is dbapi.connect
    assert dbapi.paramstyle == "qmark"


# --- what goes on the wire, seen by a recording TLS Flight server ----------------------------


@dataclass
class Recorder(flight.ServerMiddlewareFactory):
    """Keeps the headers of every call."""

    calls: list[dict[str, list[str]]] = field(default_factory=list)
    methods: list[flight.FlightMethod] = field(default_factory=list)

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[str]]) -> None:
        self.calls.append({k.lower(): list(v) for k, v in headers.items()})
        self.methods.append(info.method)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return self_signed()


@pytest.fixture(scope="module")
def tls_recorder(pki: Pki) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    server = flight.FlightServerBase(
        "grpc+tls://127.0.0.1:0",
        tls_certificates=[flight.CertKeyPair(pki.cert_pem, pki.key_pem)],
        middleware={"recorder": recorder},
    )
    yield f"grpc+tls://127.0.0.1:{server.port}", recorder
    server.shutdown()


def _try_query(conn: dbapi.Connection) -> None:
    with conn.cursor() as cur, pytest.raises(dbapi.Error):
        cur.execute("SELECT 1")


def test_tls_with_root_certs_sends_database_once_and_bearer_token(
    tls_recorder: tuple[str, Recorder], pki: Pki, tmp_path
) -> None:
    uri, recorder = tls_recorder
    recorder.calls.clear()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.cert_pem)
    with dbapi.connect(uri, database="mydb", token="t0k", tls_root_certs=ca) as conn:
        _try_query(conn)
    assert recorder.calls, "no call reached the server over TLS"
    for headers in recorder.calls:
        assert headers["database"] == ["mydb"]
        assert headers["authorization"] == ["Bearer t0k"]


def test_tls_without_the_root_certs_is_refused(tls_recorder: tuple[str, Recorder]) -> None:
    uri, recorder = tls_recorder
    recorder.calls.clear()
    with dbapi.connect(uri, database="mydb") as conn:
        _try_query(conn)
    assert recorder.calls == []


def test_query_without_parameters_is_not_prepared(
    tls_recorder: tuple[str, Recorder], pki: Pki, tmp_path
) -> None:
    uri, recorder = tls_recorder
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.cert_pem)
    with dbapi.connect(uri, database="mydb", tls_root_certs=ca) as conn:
        recorder.methods.clear()
        _try_query(conn)
        assert flight.FlightMethod.DO_ACTION not in recorder.methods  # no CreatePrepared...
        assert flight.FlightMethod.GET_FLIGHT_INFO in recorder.methods
        recorder.methods.clear()
        with conn.cursor() as cur, pytest.raises(dbapi.Error):
            cur.execute("SELECT ?", (1,))
        assert recorder.methods[0] == flight.FlightMethod.DO_ACTION  # prepared first


# --- a real server ----------------------------------------------------------------------------


def test_query_with_parameters(flight_uri: str, database: str) -> None:
    with dbapi.connect(flight_uri, database=database) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, usage FROM cpu WHERE usage > ? ORDER BY time", (2.0,))
        table = cur.fetch_arrow_table()
    assert table.column("usage").to_pylist() == [10.0, 2.5, 20.0]


def test_one_cursor_switches_between_direct_and_prepared_runs(
    flight_uri: str, database: str
) -> None:
    sql = "SELECT count(*) AS n FROM cpu WHERE usage > ?"
    with dbapi.connect(flight_uri, database=database) as conn, conn.cursor() as cur:
        assert isinstance(cur, dbapi.Cursor)
        cur.execute("SELECT count(*) AS n FROM cpu")
        assert cur.fetchall() == [(4,)]
        assert [d[0] for d in cur.description] == ["n"]
        cur.execute(sql, (2.0,))
        assert cur.fetchall() == [(3,)]
        cur.execute("SELECT count(*) AS n FROM cpu WHERE usage > 2.0")
        assert cur.fetchall() == [(3,)]
        cur.execute(sql, (10.0,))  # same text again after a direct run: prepared again
        assert cur.fetchall() == [(1,)]
        cur.execute(sql, (2.0,))  # same prepared text, new parameters
        assert cur.fetchall() == [(3,)]


def test_direct_update_and_executemany_after_a_direct_query(flight_uri: str, database: str) -> None:
    with dbapi.connect(flight_uri, database=database) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.executemany(
            "INSERT INTO direct_runs (host, v, time) VALUES (?, ?, ?)",
            [("a", 1.0, datetime.datetime(2024, 1, 1)), ("b", 2.0, datetime.datetime(2024, 1, 2))],
        )
        cur.execute("SELECT host, v FROM direct_runs ORDER BY host")
        assert cur.fetchall() == [("a", 1.0), ("b", 2.0)]
        cur.execute("DELETE FROM direct_runs WHERE host = 'a'")
        cur.execute("SELECT host FROM direct_runs")
        assert cur.fetchall() == [("b",)]


def test_autocommit_without_warnings(flight_uri: str, database: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        conn = dbapi.connect(flight_uri, database=database)
        conn.close()
    assert [str(w.message) for w in caught] == []


def test_pandas_fetch_df(flight_uri: str, database: str) -> None:
    with dbapi.connect(flight_uri, database=database) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, count(*) AS n FROM cpu GROUP BY host ORDER BY host")
        frame = cur.fetch_df()
    assert frame.to_dict("list") == {"host": ["a", "b"], "n": [2, 2]}


def test_polars_read_database(flight_uri: str, database: str) -> None:
    with dbapi.connect(flight_uri, database=database) as conn:
        frame = pl.read_database(
            "SELECT host, usage, time FROM cpu WHERE host = ? ORDER BY time",
            connection=conn,
            execute_options={"parameters": ("b",)},
        )
    assert frame["usage"].to_list() == [10.0, 20.0]
    assert frame.schema["time"] == pl.Datetime("ns")


def test_unknown_database_is_an_error(flight_uri: str) -> None:
    with (
        dbapi.connect(flight_uri, database="nope") as conn,
        conn.cursor() as cur,
        pytest.raises(dbapi.Error, match="nope"),
    ):
        cur.execute("SELECT 1")


def test_adbc_ingest(flight_uri: str, database: str) -> None:
    data = pa.table(
        {
            "host": ["z"],
            "load": [0.25],
            "time": pa.array([datetime.datetime(2024, 1, 1)], pa.timestamp("ns")),
        }
    )
    with dbapi.connect(flight_uri, database=database) as conn, conn.cursor() as cur:
        cur.adbc_ingest("ingested", data, mode="create_append")
        cur.execute("SELECT host, load FROM ingested")
        assert cur.fetchall() == [("z", 0.25)]
