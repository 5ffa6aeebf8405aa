"""The ``flight_iox`` SQLAlchemy dialect: DataFusion SQL over ADBC Flight SQL.

URL: ``flight_iox://[:token@]host[:port]/database[?tls=true&tls_root_certs=PATH]``.
Each database is a Flight SQL catalog; its tables are in schema ``iox``. There
are no transactions: every statement commits on its own (AUTOCOMMIT).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc
from sqlalchemy.engine import default

from adbc_driver_flight_iox.uri import connect_arguments
from sqlalchemy_flight_iox import compiler, ingest
from sqlalchemy_flight_iox import reflection as catalog
from sqlalchemy_flight_iox.compat import SQLALCHEMY_2, dbapi_connection, reflection_cache
from sqlalchemy_flight_iox.cursor import DdlCursor
from sqlalchemy_flight_iox.types import UInt64, sqlalchemy_type

if TYPE_CHECKING:  # SQLAlchemy 2.x names; 1.4 has none of them (see compat.py)
    from sqlalchemy.engine.interfaces import (
        DBAPIConnection,
        DBAPICursor,
        ExecutionContext,
        IsolationLevel,
        ReflectedColumn,
        ReflectedForeignKeyConstraint,
        ReflectedIndex,
        ReflectedPrimaryKeyConstraint,
        ReflectedTableComment,
        ReflectedUniqueConstraint,
    )
    from sqlalchemy.engine.url import URL

USER_SCHEMA = "iox"


class FlightIoxExecutionContext(default.DefaultExecutionContext):
    """``?`` binds and Arrow results pass through; DDL returns no rows."""

    def create_cursor(self) -> Any:
        """The driver's cursor; for DDL, wrapped so that SQLAlchemy closes it (cursor.py)."""
        cursor = super().create_cursor()
        return DdlCursor(cursor) if self.isddl else cursor


class FlightIoxDialect(default.DefaultDialect):
    """SQLAlchemy 1.4 and 2.x dialect for flight-iox (DataFusion SQL, ADBC Flight SQL DB-API)."""

    name = "flight_iox"
    driver = "adbc"
    supports_statement_cache = True

    default_paramstyle = "qmark"
    positional = True
    statement_compiler = compiler.FlightIoxCompiler
    ddl_compiler = compiler.FlightIoxDDLCompiler
    type_compiler_cls = compiler.FlightIoxTypeCompiler
    preparer = compiler.FlightIoxIdentifierPreparer
    execution_ctx_cls = FlightIoxExecutionContext

    max_identifier_length = 255
    supports_schemas = True
    default_schema_name = USER_SCHEMA
    requires_name_normalize = False
    supports_native_boolean = True
    supports_native_decimal = False
    supports_native_enum = False
    supports_is_distinct_from = True
    supports_simple_order_by_label = True
    supports_alter = False
    supports_comments = False
    supports_sequences = False
    supports_default_values = False
    supports_default_metavalue = False
    supports_empty_insert = False
    supports_multivalues_insert = False
    use_insertmanyvalues = False
    insert_returning = False
    update_returning = False
    delete_returning = False
    postfetch_lastrowid = False
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    supports_server_side_cursors = False
    colspecs = {UInt64: UInt64}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database: str | None = None

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        """The flight-iox ADBC DB-API module."""
        from adbc_driver_flight_iox import dbapi

        return dbapi

    if not SQLALCHEMY_2 and not TYPE_CHECKING:
        # SQLAlchemy 1.4 knows the DB-API loader as ``dbapi()`` and the type compiler as
        # ``type_compiler``; 2.x warns about the first, so it is only defined on 1.4.
        @classmethod
        def dbapi(cls) -> ModuleType:
            """The flight-iox ADBC DB-API module (SQLAlchemy 1.4's name for the loader)."""
            return cls.import_dbapi()

        type_compiler = compiler.FlightIoxTypeCompiler

    # --- connecting -------------------------------------------------------------------------

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        """``adbc_driver_flight_iox.dbapi.connect`` arguments from the URL."""
        options = {key: str(value) for key, value in url.query.items()}
        try:
            uri, kwargs = connect_arguments(url.host, url.port, url.database, url.password, options)
        except ValueError as error:
            raise exc.ArgumentError(str(error)) from None
        self.database = kwargs["database"]
        return [uri], kwargs

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        info = dbapi_connection(connection).adbc_get_info()
        version = str(info.get("vendor_version") or "")
        return tuple(int(part) for part in re.findall(r"\d+", version)[:3])

    def _get_default_schema_name(self, connection: Any) -> str:
        return USER_SCHEMA

    # --- transactions: there are none ------------------------------------------------------

    def get_isolation_level_values(self, dbapi_conn: DBAPIConnection) -> list[IsolationLevel]:
        """Only AUTOCOMMIT: flight-iox has no transactions."""
        return ["AUTOCOMMIT"]

    def get_isolation_level(self, dbapi_connection: DBAPIConnection) -> IsolationLevel:
        """Always AUTOCOMMIT."""
        return "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_conn: DBAPIConnection) -> IsolationLevel:
        """Always AUTOCOMMIT."""
        return "AUTOCOMMIT"

    def set_isolation_level(self, dbapi_connection: DBAPIConnection, level: str) -> None:
        """Accept AUTOCOMMIT, the only level there is."""
        if level != "AUTOCOMMIT":
            raise exc.ArgumentError(f"flight-iox has no transactions; isolation {level!r}")

    def do_begin(self, dbapi_connection: DBAPIConnection) -> None:
        """Nothing to begin."""

    def do_commit(self, dbapi_connection: DBAPIConnection) -> None:
        """Every statement is already committed."""

    def do_rollback(self, dbapi_connection: DBAPIConnection) -> None:
        """Nothing to roll back (and the driver would refuse in autocommit mode)."""

    def do_ping(self, dbapi_connection: DBAPIConnection) -> bool:
        """A ``SELECT 1`` round trip."""
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
        return True

    # --- execution --------------------------------------------------------------------------

    def do_execute(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        """Run one statement; a plain INSERT of values becomes a bulk ingest."""
        if not statement.strip():  # CREATE/DROP INDEX compile to nothing
            return
        if isinstance(context, default.DefaultExecutionContext) and ingest.try_ingest(
            self, cursor, context
        ):
            return
        cursor.execute(statement, parameters if parameters else None)

    def do_execute_no_params(
        self,
        cursor: DBAPICursor,
        statement: str,
        context: ExecutionContext | None = None,
    ) -> None:
        """Run one statement without parameters."""
        if statement.strip():
            cursor.execute(statement)

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        """Many rows of a plain INSERT go as one bulk ingest."""
        if isinstance(context, default.DefaultExecutionContext) and ingest.try_ingest(
            self, cursor, context
        ):
            return
        cursor.executemany(statement, parameters)

    # --- reflection -------------------------------------------------------------------------

    def _adbc(self, connection: Any) -> Any:
        return dbapi_connection(connection)

    def _ref(self, connection: Any, table_name: str, schema: str | None) -> catalog.TableRef:
        refs = catalog.list_tables(
            self._adbc(connection), self.database, schema or USER_SCHEMA, name=table_name
        )
        if not refs:
            raise exc.NoSuchTableError(table_name)
        return refs[0]

    @reflection_cache
    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        """The schemas of the database: ``iox``, ``information_schema``, ``system``..."""
        return catalog.list_schemas(self._adbc(connection), self.database)

    @reflection_cache
    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        """The tables (InfluxDB measurements) of a schema, ``iox`` by default."""
        refs = catalog.list_tables(
            self._adbc(connection),
            self.database,
            schema or USER_SCHEMA,
            table_types=catalog.TABLE_TYPES,
        )
        return [ref.name for ref in refs]

    @reflection_cache
    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        """Views and system tables of a schema (``system``, ``information_schema``)."""
        refs = catalog.list_tables(
            self._adbc(connection),
            self.database,
            schema or USER_SCHEMA,
            table_types=catalog.VIEW_TYPES,
        )
        return [ref.name for ref in refs]

    def has_table(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        """Whether the table (or view) exists, by exact name."""
        refs = catalog.list_tables(
            self._adbc(connection), self.database, schema or USER_SCHEMA, name=table_name
        )
        return bool(refs)

    def has_schema(self, connection: Any, schema_name: str, **kw: Any) -> bool:
        """Whether the database has the schema."""
        return schema_name in self.get_schema_names(connection, **kw)

    @reflection_cache
    def _arrow_schema(self, connection: Any, table_name: str, schema: str | None, **kw: Any):  # type: ignore[no-untyped-def]
        return catalog.table_schema(
            self._adbc(connection), self._ref(connection, table_name, schema)
        )

    def get_columns(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedColumn]:
        """Columns with their SQLAlchemy types, in the server's order."""
        arrow = self._arrow_schema(connection, table_name, schema, info_cache=kw.get("info_cache"))
        columns: list[ReflectedColumn] = [
            {
                "name": field.name,
                "type": sqlalchemy_type(field.type),
                "nullable": field.nullable,
                "default": None,
                "autoincrement": False,
                "comment": None,
            }
            for field in arrow
        ]
        return columns

    def get_pk_constraint(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedPrimaryKeyConstraint:
        """Tags then time: the series key a write replaces (not enforced as unique)."""
        arrow = self._arrow_schema(connection, table_name, schema, info_cache=kw.get("info_cache"))
        key: ReflectedPrimaryKeyConstraint = {
            "constrained_columns": catalog.primary_key(arrow),
            "name": None,
        }
        return key

    def get_foreign_keys(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedForeignKeyConstraint]:
        """None: flight-iox has no foreign keys."""
        self._ref(connection, table_name, schema)
        return []

    def get_indexes(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedIndex]:
        """None: flight-iox has no indexes."""
        self._ref(connection, table_name, schema)
        return []

    def get_unique_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedUniqueConstraint]:
        """None."""
        self._ref(connection, table_name, schema)
        return []

    def get_check_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        """None."""
        self._ref(connection, table_name, schema)
        return []

    def get_table_comment(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedTableComment:
        """No comments."""
        self._ref(connection, table_name, schema)
        return {"text": None}

    def get_view_definition(
        self, connection: Any, view_name: str, schema: str | None = None, **kw: Any
    ) -> str:
        """Views are the engine's own; their definition is not available."""
        self._ref(connection, view_name, schema)
        raise NotImplementedError("flight-iox does not expose view definitions")


dialect = FlightIoxDialect
