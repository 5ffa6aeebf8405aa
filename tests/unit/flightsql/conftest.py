"""A small but real DataFusion backend and a running FlightSqlServer for these tests."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext
from datafusion.catalog import Catalog, Schema

from flight_iox.errors import DatabaseNotFoundError, QueryError
from flight_iox.flightsql import FlightSqlServer

_NO_DATABASE = "__no_database__"
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|\$(\d+)")


def rewrite_placeholders(sql: str) -> tuple[str, int]:
    """``?`` -> ``$n`` (outside quotes), and the number of parameters."""
    count = 0
    highest = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count, highest
        text = match.group(0)
        if text == "?":
            count += 1
            return f"${count}"
        if match.group(1):
            highest = max(highest, int(match.group(1)))
        return text

    rewritten = _PLACEHOLDER.sub(replace, sql)
    return rewritten, max(count, highest)


class DataFusionBackend:
    """Databases as DataFusion memory catalogs, user tables in schema ``iox``."""

    def __init__(self, tables: dict[str, dict[str, pa.Table]]) -> None:
        self.tables = tables
        self.catalogs: dict[str, Catalog] = {}
        for database, database_tables in tables.items():
            catalog = Catalog.memory_catalog()
            schema = Schema.memory_schema()
            catalog.register_schema("iox", schema)
            self.catalogs[database] = catalog
            ctx = SessionContext()
            for name, table in database_tables.items():
                schema.register_table(name, ctx.from_arrow(table))

    def _context(self, database: str | None) -> SessionContext:
        if database is not None and database not in self.catalogs:
            raise DatabaseNotFoundError(database)
        config = (
            SessionConfig()
            .with_information_schema(True)
            .with_default_catalog_and_schema(database or _NO_DATABASE, "iox")
        )
        ctx = SessionContext(config)
        for name, catalog in self.catalogs.items():
            ctx.register_catalog_provider(name, catalog)
        return ctx

    def scoped(self, principal: object) -> DataFusionBackend:
        """These tests run without auth: every caller sees everything."""
        return self

    def database_names(self) -> list[str]:
        return sorted(self.catalogs)

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        if database not in self.tables:
            raise DatabaseNotFoundError(database)
        return {name: table.schema for name, table in self.tables[database].items()}

    def query_schema(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> pa.Schema:
        ctx = self._context(database)
        values = {
            str(i): value.as_py() if isinstance(value, pa.Scalar) else value
            for i, value in enumerate(params, start=1)
        }
        try:
            return ctx.sql(rewrite_placeholders(sql)[0], param_values=values or None).schema()
        except Exception as error:
            raise QueryError(str(error)) from error

    def parameter_count(self, sql: str) -> int:
        return rewrite_placeholders(sql)[1]

    def reads_no_data(self, sql: str) -> bool:
        return False

    def execute(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> pa.RecordBatchReader:
        ctx = self._context(database)
        values = {
            str(i): value.as_py() if isinstance(value, pa.Scalar) else value
            for i, value in enumerate(params, start=1)
        }
        try:
            frame = ctx.sql(rewrite_placeholders(sql)[0], param_values=values or None)
            return pa.RecordBatchReader.from_stream(frame)
        except Exception as error:
            raise QueryError(str(error)) from error


def cpu_table() -> pa.Table:
    return pa.table(
        {
            "host": pa.array(["a", "b", "a", "c"]).dictionary_encode(),
            "usage": pa.array([0.5, 1.5, 2.5, 3.5]),
            "count": pa.array([1, 2, 3, 4], pa.int64()),
            "time": pa.array([1, 2, 3, 4], pa.timestamp("ns", tz="UTC")),
        }
    )


@pytest.fixture(scope="session")
def backend() -> DataFusionBackend:
    mem = pa.table({"host": ["a", "b"], "free": [10, 20]})
    return DataFusionBackend({"mydb": {"cpu": cpu_table(), "mem": mem}, "other": {}})


@pytest.fixture(scope="session")
def server(backend: DataFusionBackend) -> Iterator[FlightSqlServer]:
    flight_server = FlightSqlServer("grpc://127.0.0.1:0", backend)
    thread = threading.Thread(target=flight_server.serve, daemon=True)
    thread.start()
    yield flight_server
    flight_server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def uri(server: FlightSqlServer) -> str:
    return f"grpc://127.0.0.1:{server.port}"
