"""Warm DataFusion contexts: one per default database and set of databases it holds.

A context per default database (the one a request names) lets unqualified table names
resolve without building a context per query. Which catalogs a context holds is decided
per statement (``reads.py``): the default database and the databases the statement names,
of those the caller may see. So ``SHOW TABLES`` and ``information_schema`` list the
session's database, and another one only when the statement names it. Who may read what
is decided by which catalog objects a context holds: an admin context (admin tokens, auth
off, the server's own callers) holds the full catalogs, with the admin-only system
tables; any other context the scoped catalogs of databases the principal may read, so an
unreadable database does not resolve in any syntax.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from datafusion import SessionConfig, SessionContext
from datafusion.catalog import Catalog, Table
from datafusion.user_defined import TableFunction

from flight_iox.config import QueryLimits
from flight_iox.errors import NoDatabaseError
from flight_iox.query.registry import USER_SCHEMA, TableRegistry, new_catalog
from flight_iox.query.runtime import runtime_env
from flight_iox.query.tables import PARQUET_OPTIONS

NO_DATABASE = "__no_database__"
# The databases a principal may see: None for every one (and the admin-only system tables),
# else exactly these names.
Scope = frozenset[str] | None
# Contexts kept (per default database, databases held and admin or not), LRU.
CONTEXTS = 128


class Contexts:
    """The warm contexts, made on first use; the catalogs come from the registry."""

    def __init__(
        self,
        registry: TableRegistry,
        limits: QueryLimits,
        batch_size: int,
        object_store: tuple[str, object, str] | None,
        table_functions: Callable[[str | None], list[TableFunction]],
    ) -> None:
        self._registry = registry
        self._limits = limits
        self._batch_size = batch_size
        self._object_store = object_store
        self._table_functions = table_functions
        self._contexts: OrderedDict[
            tuple[str, frozenset[str], bool, bool], tuple[SessionContext, set[str]]
        ] = OrderedDict()
        # The one context for plans over rows already in memory: frames made with
        # ``read_table`` of a provider, which resolve no name in it (the partial aggregates'
        # merges and finals). A context for each such plan cost 0.24 ms of a query's CPU (a
        # scratch profile of ``count(*)`` from kept partials, docs/benchmarks.md).
        # One partition, as ``isolated``'s: the rows are few. Its pool is not bounded by
        # --query-memory-limit: a plan in it reads at most ``partial_runs.FEW_ROWS`` partial
        # rows, already counted against the statement's limit (``HeldPartials``), and the
        # query slots bound how many run at once. Sharing one limit among them made
        # concurrent finals fail over to their plain plans (six threads at 64 MiB).
        unbounded = replace(limits, memory_limit=0)
        config = self._config(NO_DATABASE).with_target_partitions(1)
        self.in_memory = SessionContext(config, runtime_env(unbounded))

    def get(
        self, database: str | None, held: frozenset[str], admin: bool, narrow: bool = False
    ) -> SessionContext:
        """The warm context for ``database`` holding the catalogs ``held``.

        ``admin``: the full catalogs (admin-only system tables too), else the scoped ones.
        ``narrow``: the one planning on one partition, for statements that read few rows
        (``pruned_plans.SMALL_ROWS``).
        Kept warm, least recently used dropped first; what a context holds is part of every
        statement key (the scope and the state of the databases held), so no plan made in
        one context runs in another. Call with the registry's lock held, after refreshing
        ``held``.
        """
        key = (database or NO_DATABASE, held, admin, narrow)
        entry = self._contexts.get(key)
        if entry is None:
            entry = self._contexts[key] = self._new_context(database, narrow)
            while len(self._contexts) > CONTEXTS:
                self._contexts.popitem(last=False)
        else:
            self._contexts.move_to_end(key)
        context, known = entry
        if len(known) < len(held):
            catalogs = self._catalogs(admin)
            for name in held - known:
                if name in catalogs:
                    context.register_catalog_provider(name, catalogs[name])
                    known.add(name)
        return context

    def _catalogs(self, admin: bool) -> dict[str, Catalog]:
        if admin:
            return {name: pair[0] for name, pair in self._registry.catalogs.items()}
        return self._registry.scoped_catalogs

    def session(self, config: SessionConfig) -> SessionContext:
        """A context under the query limits: its own fair memory pool, spilling to disk."""
        context = SessionContext(config, runtime_env(self._limits))
        if self._object_store is not None:
            context.register_object_store(*self._object_store)
        return context

    def isolated(
        self, database: str, table: str, provider: Table, *, single: bool = True
    ) -> SessionContext:
        """A context where only ``database``'s ``table`` resolves, to ``provider``.

        For a statement already planned in the caller's own context, planned again over
        another source of the same table (``latest_rows.py``), or one source of a table
        aggregated alone (``partial_aggs.py``, ``single=False``: the buffer may be large).
        """
        # One partition: the rows are few, and repartitioning them costs more than it saves.
        config = self._config(database)
        context = self.session(config.with_target_partitions(1) if single else config)
        catalog, schema = new_catalog()
        schema.register_table(table, provider)
        context.register_catalog_provider(database, catalog)
        return context

    def _config(self, key: str) -> SessionConfig:
        # Two optimizer passes, not three: on our plans the third only confirms the
        # fixed point (same TSBS plans, 0.2-0.5 ms less planning per query).
        return (
            SessionConfig({**PARQUET_OPTIONS, "datafusion.optimizer.max_passes": "2"})
            .with_default_catalog_and_schema(key, USER_SCHEMA)
            .with_batch_size(self._batch_size)
        )

    def _new_context(self, database: str | None, narrow: bool) -> tuple[SessionContext, set[str]]:
        key = database or NO_DATABASE
        config = self._config(key).with_information_schema(True)
        context = self.session(config.with_target_partitions(1) if narrow else config)
        # The default catalog is always ours, so a database the context may not hold never
        # resolves by the default name either (DataFusion would make an empty one).
        context.register_catalog_provider(key, new_catalog()[0])
        for function in self._table_functions(database):
            context.register_udtf(function)
        return context, set()


def no_database_error(message: str, database: str | None) -> NoDatabaseError | None:
    """An unqualified name that failed because the request names no database.

    Without one, unqualified names resolve in an empty placeholder catalog, and DataFusion's
    message would show its name (``table '__no_database__.iox.cpu' not found``).
    """
    if database is not None or NO_DATABASE not in message:
        return None
    problem = message.replace(f"{NO_DATABASE}.{USER_SCHEMA}.", "").replace(NO_DATABASE, "")
    return NoDatabaseError(f"{problem}, and the request names no database")
