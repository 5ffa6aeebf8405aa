"""Every HTTP route and Flight RPC x every actor x every way of naming a database.

One table (``CASES``) of expected statuses, in the order none, wrong, read-``mine``,
write-``mine``, admin (see ``auth_matrix.py``). Reads of ``other`` through SQL answer
400 "not found" for a token that may not read it, whatever the syntax: its database is
not in the token's SQL context. A default database the token may not use answers 403.
"""

from __future__ import annotations

import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import StatementHandle
from tests.e2e.auth_matrix import (
    ADMIN_ONLY,
    AMBIGUOUS,
    CHANGES_OTHER,
    LISTING,
    NOT_IN_SCOPE,
    OTHER_IN_SQL,
    READS_MINE,
    READS_OTHER,
    SCRATCH_ROW,
    WRITES_MINE,
    WRITES_OTHER,
    Case,
    Env,
    auth_env,  # noqa: F401 (the module's server)
    cells,
    check_cell,
    http,
    sql_http,
)
from tests.e2e.auth_matrix_flight import (
    flight_info_and_get,
    flight_ingest,
    flight_plain_put,
    flight_prepared,
    flight_sql,
    flight_ticket,
    flight_update,
    json_ticket,
)

INSERT_SELECT = "INSERT INTO scratch (host, v, time) SELECT host, usage, time FROM {}"
FORGED = StatementHandle("other", "SELECT host FROM cpu").encode()

CASES: list[Case] = [
    # --- SQL over HTTP -------------------------------------------------------------------
    Case("sql db param", sql_http("SELECT host FROM cpu"), READS_MINE),
    Case("sql db param other", sql_http("SELECT host FROM cpu", "other"), READS_OTHER),
    Case(
        "sql json body db",
        http("POST", "/api/v3/query_sql", body={"db": "other", "q": "SELECT host FROM cpu"}),
        READS_OTHER,
    ),
    Case(
        "sql json body db overrides query db",
        http(
            "POST",
            "/api/v3/query_sql",
            {"db": "mine"},
            body={"db": "other", "q": "SELECT host FROM cpu"},
        ),
        AMBIGUOUS,
    ),
    Case(
        "sql db param twice",
        http("GET", "/api/v3/query_sql", [("db", "mine"), ("db", "other"), ("q", "SELECT 1")]),
        AMBIGUOUS,
    ),
    *(Case(f"sql {name}", sql_http(sql), NOT_IN_SCOPE) for name, sql in OTHER_IN_SQL.items()),
    Case(
        "sql information_schema",
        sql_http("SELECT DISTINCT table_catalog FROM information_schema.tables"),
        READS_MINE,
        leak="other",
    ),
    Case(
        "sql information_schema columns",
        sql_http("SELECT DISTINCT table_catalog FROM information_schema.columns"),
        READS_MINE,
        leak="other",
    ),
    Case("sql show tables", sql_http("SHOW TABLES"), READS_MINE, leak="other"),
    Case("sql system.tokens", sql_http("SELECT name FROM system.tokens"), NOT_IN_SCOPE, "_admin"),
    Case(
        "sql delete in mine",
        sql_http("DELETE FROM cpu WHERE host = 'nosuch'"),
        "401 401 403 403 200",
    ),
    Case(
        "sql delete other",
        sql_http("DELETE FROM other.iox.cpu WHERE host = 'nosuch'"),
        CHANGES_OTHER,
    ),
    Case("sql drop other", sql_http("DROP TABLE other.iox.nosuch"), "401 401 403 403 404"),
    Case(
        "sql delete other commented",
        sql_http("DELETE FROM other/**/.iox.cpu WHERE host = 'nosuch'"),
        CHANGES_OTHER,
    ),
    Case(
        "sql drop other commented",
        sql_http('DROP TABLE "other" -- x\n . iox.nosuch'),
        "401 401 403 403 404",
    ),
    Case("sql drop other quoted", sql_http('DROP TABLE "other"."iox"."cpu"'), "401 401 403 403 -"),
    Case(
        "sql create other",
        sql_http("CREATE TABLE IF NOT EXISTS other.iox.made (time TIMESTAMP, v DOUBLE)"),
        CHANGES_OTHER,
    ),
    # --- writes over HTTP ----------------------------------------------------------------
    Case(
        "write_lp mine",
        http("POST", "/api/v3/write_lp", {"db": "mine"}, data=SCRATCH_ROW),
        WRITES_MINE,
    ),
    Case(
        "write_lp other",
        http("POST", "/api/v3/write_lp", {"db": "other"}, data=SCRATCH_ROW),
        WRITES_OTHER,
    ),
    Case(
        "write_lp new database",
        http("POST", "/api/v3/write_lp", {"db": "fresh"}, data=SCRATCH_ROW),
        WRITES_OTHER,
    ),
    Case(
        "write_lp db twice",
        http("POST", "/api/v3/write_lp", [("db", "mine"), ("db", "other")], data=SCRATCH_ROW),
        AMBIGUOUS,
    ),
    Case(
        "v2 bucket other",
        http("POST", "/api/v2/write", {"bucket": "other"}, data=SCRATCH_ROW),
        WRITES_OTHER,
    ),
    Case(
        "v2 db and bucket",
        http("POST", "/api/v2/write", {"db": "mine", "bucket": "other"}, data=SCRATCH_ROW),
        AMBIGUOUS,
    ),
    Case("v1 write other", http("POST", "/write", {"db": "other"}, data=SCRATCH_ROW), WRITES_OTHER),
    Case(
        "v1 write db and bucket",
        http("POST", "/write", {"db": "mine", "bucket": "other"}, data=SCRATCH_ROW),
        AMBIGUOUS,
    ),
    # --- InfluxQL transports (the statements' own names: test_auth_influxql.py) -----------
    Case(
        "influxql db other",
        http("GET", "/query", {"db": "other", "q": "SHOW MEASUREMENTS"}),
        READS_OTHER,
    ),
    Case(
        "influxql form body db overrides query db",
        http("POST", "/query", {"db": "mine"}, form={"db": "other", "q": "SELECT * FROM cpu"}),
        AMBIGUOUS,
    ),
    Case(
        "influxql json body db overrides query db",
        http(
            "POST",
            "/api/v3/query_influxql",
            {"db": "mine"},
            body={"db": "other", "q": "SELECT * FROM cpu"},
        ),
        AMBIGUOUS,
    ),
    # --- database and server administration -----------------------------------------------
    Case("list databases", http("GET", "/api/v3/configure/database"), LISTING, leak="other"),
    Case(
        "create database",
        http("POST", "/api/v3/configure/database", body={"db": "made_db"}),
        "401 401 403 403 201",
    ),
    Case(
        "create database with a template",
        http(
            "POST",
            "/api/v3/configure/database",
            body={"db": "made_tpl_db", "partition_template": {"time": "hour", "tags": ["h"]}},
        ),
        "401 401 403 403 201",
    ),
    Case(
        "create database body and query",
        http("POST", "/api/v3/configure/database", {"db": "mine"}, body={"db": "other"}),
        AMBIGUOUS,
    ),
    Case(
        "delete database other",
        http("DELETE", "/api/v3/configure/database", {"db": "other"}),
        "401 401 403 403 -",
    ),
    Case(
        "retention of other",
        http("PUT", "/api/v3/configure/database", body={"db": "other", "retention_period": "none"}),
        ADMIN_ONLY,
    ),
    Case("persist", http("POST", "/api/v3/persist", {"db": "other"}), ADMIN_ONLY),
    Case("compact", http("POST", "/api/v3/compact", {"db": "other"}), ADMIN_ONLY),
    Case("catalog properties", http("GET", "/api/v3/configure/catalog"), ADMIN_ONLY),
    Case("list tokens", http("GET", "/api/v3/configure/token"), ADMIN_ONLY, leak="_admin"),
    Case(
        "create token",
        http(
            "POST",
            "/api/v3/configure/token",
            body={"name": "x", "permissions": [{"database": "other", "actions": ["read"]}]},
        ),
        "401 401 403 403 201",
    ),
    # No route serves it: the JSON 404 naming the path, whoever asks (nothing to protect).
    Case("unknown route", http("GET", "/api/v3/nosuch"), "404 404 404 404 404"),
    Case("bootstrap closed", http("POST", "/api/v3/configure/token/admin"), "409 401 409 409 409"),
    Case("health", http("GET", "/health"), "200 401 200 200 200"),
    # --- Flight SQL queries -----------------------------------------------------------------
    Case("flight header", flight_sql("SELECT host FROM cpu"), READS_MINE),
    Case("flight header other", flight_sql("SELECT host FROM cpu", "other"), READS_OTHER),
    Case(
        "flight two database headers",
        flight_sql("SELECT 1", headers=[("database", "other")]),
        AMBIGUOUS,
    ),
    Case(
        "flight database and bucket headers",
        flight_sql("SELECT 1", headers=[("bucket", "other")]),
        AMBIGUOUS,
    ),
    Case(
        "flight repeated identical header",  # ADBC repeats an option set at several levels
        flight_sql("SELECT host FROM cpu", headers=[("database", "mine")]),
        READS_MINE,
    ),
    *(Case(f"flight {name}", flight_sql(sql), NOT_IN_SCOPE) for name, sql in OTHER_IN_SQL.items()),
    Case(
        "flight no header three-part",
        flight_sql("SELECT host FROM other.iox.cpu", None),
        "401 401 400 400 200",
    ),
    Case("flight prepared", flight_prepared("SELECT host FROM other.iox.cpu"), NOT_IN_SCOPE),
    Case(
        "flight forged prepared handle",
        flight_info_and_get(pb.CommandPreparedStatementQuery(prepared_statement_handle=FORGED)),
        READS_OTHER,
    ),
    Case(
        "flight forged ticket",
        flight_ticket(pack(pb.TicketStatementQuery(statement_handle=FORGED))),
        READS_OTHER,
    ),
    Case(
        "json ticket other",
        json_ticket(database="other", sql_query="SELECT host FROM cpu"),
        READS_OTHER,
    ),
    Case(
        "json ticket and header differ",
        json_ticket([("database", "mine")], database="other", sql_query="SELECT 1"),
        AMBIGUOUS,
    ),
    Case(
        "json ticket three-part",
        json_ticket(database="mine", sql_query="SELECT host FROM other/**/.iox.cpu"),
        NOT_IN_SCOPE,
    ),
    Case(
        "json ticket influxql other",
        json_ticket(database="mine", sql_query="SELECT * FROM other..cpu", query_type="influxql"),
        READS_OTHER,  # refused where InfluxQL resolves the source (test_auth_influxql.py)
    ),
    # --- Flight SQL updates and ingest -------------------------------------------------------
    Case(
        "flight insert into other",
        flight_update(
            "INSERT INTO other.iox.scratch (host, v, time) "
            "VALUES ('x', 1.0, '1970-01-01T00:00:03Z')"
        ),
        CHANGES_OTHER,
    ),
    Case(
        "flight insert values in mine",
        flight_update(
            "INSERT INTO scratch (host, v, time) VALUES ('w', 2.0, '1970-01-01T00:00:04Z')"
        ),
        "401 401 403 200 200",
    ),
    Case(
        "flight insert select from other",
        flight_update(INSERT_SELECT.format("other.iox.cpu")),
        "401 401 403 400 200",
    ),
    Case(
        "flight insert select from other commented",
        flight_update(INSERT_SELECT.format("other/**/.iox.cpu")),
        "401 401 403 400 200",
    ),
    Case(
        "flight delete other",
        flight_update("DELETE FROM other.iox.cpu WHERE host = 'nosuch'"),
        CHANGES_OTHER,
    ),
    Case(
        "flight delete mine",
        flight_update("DELETE FROM cpu WHERE host = 'nosuch'"),
        "401 401 403 403 200",
    ),
    Case("flight drop other", flight_update("DROP TABLE other.iox.nosuch"), "401 401 403 403 404"),
    Case(
        "flight create other",
        flight_update("CREATE TABLE IF NOT EXISTS other.iox.made2 (time TIMESTAMP, v DOUBLE)"),
        CHANGES_OTHER,
    ),
    Case("flight ingest catalog other", flight_ingest("other"), CHANGES_OTHER),
    Case("flight ingest header other", flight_ingest(None, "other"), CHANGES_OTHER),
    Case("flight ingest mine", flight_ingest("mine"), "401 401 403 200 200"),
    Case("flight plain put other", flight_plain_put("other"), CHANGES_OTHER),
    # --- Flight SQL metadata ---------------------------------------------------------------
    Case("get catalogs", flight_info_and_get(pb.CommandGetCatalogs()), LISTING, leak="other"),
    Case("get db schemas", flight_info_and_get(pb.CommandGetDbSchemas()), LISTING, leak="other"),
    Case(
        "get tables",
        flight_info_and_get(pb.CommandGetTables(include_schema=True)),
        LISTING,
        leak="other",
    ),
    Case(
        "get tables of other",
        flight_info_and_get(pb.CommandGetTables(catalog="other")),
        LISTING,
        leak="cpu",
    ),
    Case(
        "get primary keys of other",
        flight_info_and_get(pb.CommandGetPrimaryKeys(catalog="other", table="cpu")),
        LISTING,
        leak="host",
    ),
    Case("get sql info", flight_info_and_get(pb.CommandGetSqlInfo()), LISTING, leak="other"),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_auth_matrix(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)


def test_a_read_write_token_cannot_copy_another_database_into_its_own(auth_env: Env) -> None:  # noqa: F811
    """``INSERT INTO t SELECT ... FROM other/**/.iox.cpu``: the SELECT runs as the caller."""
    admin = auth_env.tokens["admin"]
    response = requests.post(
        f"{auth_env.server.http_url}/api/v3/configure/token",
        json={"name": "rw", "permissions": [{"database": "mine", "actions": ["read", "write"]}]},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    read_write = response.json()["token"]
    for source in ("other.iox.cpu", "other/**/.iox.cpu", '"other" . iox . cpu'):
        sql = "INSERT INTO copied (host, v, time) SELECT host, usage, time FROM " + source
        answer = flight_update(sql)(auth_env, read_write)
        assert answer.status == 400 and "not found" in answer.text, answer.text
    tables = auth_env.admin_sql("SELECT table_catalog, table_name FROM information_schema.tables")
    assert {"table_catalog": "mine", "table_name": "copied"} not in tables
    copied = flight_update(INSERT_SELECT.format("cpu"))(auth_env, read_write)
    assert copied.status == 200, copied.text  # its own database: allowed


@pytest.mark.parametrize(
    ("actor", "accepted"), [("read", False), ("write", False), ("admin", True)]
)
def test_session_catalog_only_names_a_readable_database(
    auth_env: Env,  # noqa: F811
    actor: str,
    accepted: bool,
) -> None:
    request = flight.Action(
        "SetSessionOptions",
        pb.SetSessionOptionsRequest(
            session_options={"catalog": pb.SessionOptionValue(string_value="other")}
        ).SerializeToString(),
    )
    token = auth_env.tokens[actor]
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
    result = pb.SetSessionOptionsResult()
    result.ParseFromString(next(auth_env.client.do_action(request, options)).body.to_pybytes())
    assert ("catalog" not in result.errors) is accepted
