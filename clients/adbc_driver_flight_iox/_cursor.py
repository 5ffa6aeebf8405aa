"""A DB-API cursor that runs a query without parameters directly, in two RPCs.

``adbc_driver_manager``'s cursor prepares every new SQL text before running it:
CreatePreparedStatement, GetFlightInfo, DoGet and, on close, ClosePreparedStatement.
A query without parameters needs no prepared statement, so this cursor sends it as a
``CommandStatementQuery``: GetFlightInfo and DoGet only (like JDBC's
``Statement.executeQuery``). A query with parameters, ``executemany`` and the
``adbc_*`` extensions keep the prepared path.

This leans on two private names of ``adbc_driver_manager.dbapi`` (``_blocking_call``,
which lets Ctrl-C cancel the call, and ``_RowIterator``, the result set); the tests in
``tests/clients/test_adbc_driver.py`` catch a release that renames them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adbc_driver_manager import AdbcStatement
from adbc_driver_manager import dbapi as _dbapi

# The catalog name the server resolves tables in when a call carries no database
# (``flight_iox.query.engine.NO_DATABASE``, written again so the driver needs nothing of the
# server; tests/clients/test_errors.py checks that both agree).
NO_DATABASE = "__no_database__"
# What the server's NoDatabaseError says (``flight_iox.query.engine._no_database``); servers
# before it showed the placeholder catalog instead (``table '__no_database__.iox.cpu'``).
NO_DATABASE_MARKS = ("the request names no database", f"'{NO_DATABASE}.")


def missing_database_error(error: _dbapi.Error) -> _dbapi.ProgrammingError | None:
    """A clear error for a query that failed because the connection names no database.

    The server says the request names no database and how a Flight client sends one; the
    user of this driver needs to hear its own settings instead. None when ``error`` is
    another one.
    """
    if not any(mark in str(error) for mark in NO_DATABASE_MARKS):
        return None
    return _dbapi.ProgrammingError(
        "no database is set: pass connect(database=...), put it in the URI path "
        f"(flight_iox://host:port/mydb) or send the 'database' header (server: {error})",
        status_code=error.status_code,
        sqlstate=error.sqlstate,
        details=error.details,
    )


class Cursor(_dbapi.Cursor):
    """``adbc_driver_manager``'s cursor, with direct execution of parameterless queries."""

    def __init__(
        self,
        conn: _dbapi.Connection,
        adbc_stmt_kwargs: Mapping[str, Any] | None = None,
        *,
        dbapi_backend: Any = None,
    ) -> None:
        """A cursor on ``conn``; ``adbc_stmt_kwargs`` are ADBC statement options."""
        super().__init__(conn, adbc_stmt_kwargs, dbapi_backend=dbapi_backend)
        self._statement_options = dict(adbc_stmt_kwargs or {})
        self._holds_ingest = False

    def adbc_ingest(self, *args: Any, **kwargs: Any) -> int:
        """Bulk ingest (see ``adbc_driver_manager``); the statement keeps the ingest state."""
        self._holds_ingest = True
        return super().adbc_ingest(*args, **kwargs)

    def execute(self, operation: str | bytes, parameters: Any = None) -> Cursor:
        """Run ``operation``; without ``parameters`` it is not prepared first.

        On a connection without a database, a query that needed one fails with an error
        that says how to set it.
        """
        try:
            return self._execute(operation, parameters)
        except _dbapi.ProgrammingError as error:
            clear = None if getattr(self._conn, "database", None) else missing_database_error(error)
            if clear is None:
                raise
            raise clear from error

    def _execute(self, operation: str | bytes, parameters: Any) -> Cursor:
        if parameters is not None or not isinstance(operation, str):
            super().execute(operation, parameters)
            return self
        self._clear()
        self._results = None
        if self._holds_ingest:  # a bound ingest stream would make the query an ingest
            self._stmt.close()
            self._stmt = AdbcStatement(self._conn._conn)
            if self._statement_options:
                self._stmt.set_options(**self._statement_options)
            self._holds_ingest = False
        self._stmt.set_sql_query(operation)
        # The statement is no longer prepared: make the next parameterised call prepare again.
        self._last_query = None
        handle, self._rowcount = _dbapi._blocking_call(
            self._stmt.execute_query, (), {}, self._stmt.cancel
        )
        self._results = _dbapi._RowIterator(self._stmt, handle, self._backend)
        return self


class Connection(_dbapi.Connection):
    """``adbc_driver_manager``'s connection, handing out flight-iox cursors."""

    #: The database the connection sends in its header (None: the call names none).
    database: str | None = None

    def cursor(self, *, adbc_stmt_kwargs: Mapping[str, Any] | None = None) -> Cursor:
        """A new cursor (see ``Cursor``)."""
        cursor = Cursor(self, adbc_stmt_kwargs, dbapi_backend=self._backend)
        self._cursors.add(cursor)
        return cursor
