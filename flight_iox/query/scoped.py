"""The query engine as one principal sees it: ``SqlService.scoped(principal)``.

Read access is not decided by reading the SQL: the statement is planned in a
DataFusion context that holds only the catalogs (databases) the principal may
read, so any other database simply does not resolve, however it is written
(three-part names, quoting, comments, subqueries, CTEs, UNION, ``INSERT ...
SELECT``), and ``information_schema`` / ``SHOW TABLES`` never list another
database (they list the default database, and a readable one the statement names, see
``reads.py``). Admin principals (and ``ANONYMOUS``, auth off) get the engine's full
contexts, where the admin-only ``system.tokens`` also exists.

A default database the principal may not read is refused (403) before any
planning; an unreadable database named inside the SQL is "not found", whether
it exists or not, so a refused token learns nothing about other databases.
Statements that change data go to the update handler (the persistence layer's
``Deleter``) with the principal, which checks ``create``/``delete`` on the target
it resolves.

``SqlService`` is the ``ScopingBackend`` every transport gets (Flight SQL, HTTP SQL
and InfluxQL): the composition root builds it from the ``QueryEngine`` and the
update handler, which is why neither of those two knows the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.errors import NotSupportedError
from flight_iox.query.backend import UpdateHandler
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.statement_cache import known_no_data

if TYPE_CHECKING:
    from flight_iox.query.contexts import Scope
    from flight_iox.query.engine import QueryEngine


class SqlService:
    """SQL for the transports: reads planned by ``QueryEngine``, changes run by ``updates``."""

    def __init__(self, engine: QueryEngine, updates: UpdateHandler | None = None) -> None:
        self._engine = engine
        self._updates = updates

    def scoped(self, principal: Principal) -> ScopedQuery:
        """The engine as ``principal`` sees it (a ``QueryBackend`` and ``UpdateBackend``)."""
        return ScopedQuery(self._engine, principal, self._updates)


class ScopedQuery:
    """``QueryEngine`` restricted to what ``principal`` may read (and change, via updates)."""

    def __init__(
        self, engine: QueryEngine, principal: Principal, updates: UpdateHandler | None = None
    ) -> None:
        self._engine = engine
        self.principal = principal
        self._updates = updates
        self._admin = principal.admin  # the common path (admin tokens, auth off) stays direct

    def scope(self) -> Scope:
        """The databases this principal's contexts hold (None: every one, admin tables too)."""
        if self._admin:
            return None
        return frozenset(self.principal.readable(self._engine.database_names()))

    def may_read(self, database: str) -> bool:
        """Whether the principal may read ``database``."""
        return self.principal.may(Action.READ, database)

    def _require_read(self, database: str | None) -> None:
        if database is not None:
            Authorizer.require(self.principal, Action.READ, database)

    def database_names(self) -> list[str]:
        """The databases the principal may read, sorted."""
        return self.principal.readable(self._engine.database_names())

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        """The user tables of a database the principal may read."""
        self._require_read(database)
        return self._engine.table_schemas(database)

    def query_schema(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> pa.Schema:
        """The result schema of ``sql`` in the principal's context."""
        if self._admin:
            return self._engine.query_schema(database, sql, params)
        self._require_read(database)
        return self._engine.query_schema(database, sql, params, scope=self.scope())

    def parameter_count(self, sql: str) -> int:
        """How many positional parameters ``sql`` takes."""
        return self._engine.parameter_count(sql)

    def reads_no_data(self, sql: str) -> bool:
        """Whether ``sql`` is known to read no table (where to run it, not who may)."""
        return known_no_data(sql)

    def execute(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
    ) -> pa.RecordBatchReader:
        """Run ``sql`` in the principal's context and stream its result."""
        if self._admin:
            return self._engine.execute(database, sql, params)
        self._require_read(database)
        return self._engine.execute(database, sql, params, scope=self.scope())

    def execute_update(
        self, database: str | None, sql: str, params: Sequence[object] = ()
    ) -> int:  # fmt: skip
        """Run DELETE, DROP TABLE or CREATE TABLE; the target's permission is checked there.

        The handler resolves the statement's target and checks the principal on it
        before it looks the database up, so a refused caller learns nothing of it.
        """
        if self._updates is None:
            raise NotSupportedError("this server does not change data through SQL")
        check_expression_depth(sql, self._engine.limits.max_expression_depth)  # a DELETE's WHERE
        return self._updates(database, sql, params, self.principal)


if TYPE_CHECKING:
    from flight_iox.query.backend import QueryBackend, ScopingBackend, UpdateBackend

    def _conforms(service: SqlService, principal: Principal) -> None:
        """Never run: mypy checks here that the service and its scoped view fit the Protocols."""
        scoping: ScopingBackend = service
        query: QueryBackend = service.scoped(principal)
        update: UpdateBackend = service.scoped(principal)
        del scoping, query, update
