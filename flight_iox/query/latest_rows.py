"""Natural lastpoint SQL answered from the latest row of each series (``last_cache.py``).

``latest_plan.latest_table`` proves, on the plan DataFusion made in the caller's own
context, that the statement reads one user table only through "the latest row per group
of tags". The statement is then planned again, word for word, in a context where that
table's name resolves to the server's latest rows of each series instead of the files and
the buffer: same SQL, same result schema, a few hundred rows to read instead of the table.

Permissions are not bypassed: the first plan is made in the context the caller's scope
allows (an unreadable database does not resolve there), the second context holds only the
one table of the default database that the first plan read, and the rewrite happens only
for a database in the caller's scope.

Not applied on a query node (other nodes' unpersisted rows are not in the latest rows it
keeps), nor while the table has a lost file (the plain plan reports it).

The answer of a rewritten plan is kept with the plan (``answer``): the plan is bound to
one version of the latest rows, so every run of it returns the same rows, and a repeated
statement (the engine keeps plans by statement and table state) is served them without
running DataFusion again. Computing even a few hundred rows costs DataFusion milliseconds
(``DISTINCT ON`` is a ``first_value(.. ORDER BY ..)`` per column: ~6 ms of CPU for TSBS's
100 rows of 21 columns), which is most of a lastpoint query.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import pyarrow as pa
from datafusion import DataFrame, LogicalPlan, SessionContext
from datafusion.catalog import Table as Provider

from flight_iox.columns import ColumnRole, role_of
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.execution import Query
from flight_iox.query.latest_plan import Table, latest_table
from flight_iox.query.registry import USER_SCHEMA

# (database, table) -> the served latest rows (None if the table is gone)
Prepare = Callable[[str, str], Provider | None]
# (database, table name, provider) -> a context where only that table resolves
Isolated = Callable[[str, str, Provider], SessionContext]
# Answers larger than this are not kept (a plan closed over the latest rows may still
# join them to themselves); a lastpoint of 40,000 series of 21 columns is about 7 MB.
MAX_KEPT_ANSWER_BYTES = 8 << 20


class LatestRows:
    """Swaps a proven lastpoint plan for the same SQL over the latest rows of each series."""

    def __init__(
        self,
        schema_of: Callable[[str, str], pa.Schema | None],
        prepare: Prepare,
        isolated: Isolated,
        unavailable: Callable[[DataFrame], None],
        view_label: Callable[[str], str | None],
    ) -> None:
        """``schema_of`` gives a user table's schema (None: no such table); ``unavailable``
        raises for a plan that would read a lost file; ``view_label`` names the table a
        view's plan rendering is of (``db.table``)."""
        self._view_label = view_label
        self._schema_of = schema_of
        self._prepare = prepare
        self._isolated = isolated
        self._unavailable = unavailable
        self._lock = threading.Lock()
        # Each rewritten plan -> its answer once run (None until then); an entry goes with
        # its plan, when the engine's statement cache drops it.
        self._answers: weakref.WeakKeyDictionary[DataFrame, pa.Table | None] = (
            weakref.WeakKeyDictionary()
        )

    def rewrite(
        self,
        database: str | None,
        scope: frozenset[str] | None,
        frame: DataFrame,
        replan: Callable[[SessionContext], DataFrame],
    ) -> DataFrame:
        """``frame``, or the same statement planned over the latest rows when provably equal."""
        if database is None or (scope is not None and database not in scope):
            return frame
        table = latest_table(
            frame.logical_plan(),
            lambda fqn: self._resolve(database, fqn),
            lambda body: self._view(database, body),
        )
        if table is None:
            return frame
        self._unavailable(frame)  # a lost file fails the query as the plain plan would
        provider = self._prepare(database, table.name)
        if provider is None:
            return frame
        try:
            rewritten = replan(self._isolated(database, table.name, provider))
        except Exception as error:  # the plain plan stands; our bugs still surface
            if not is_engine_error(error):
                raise
            return frame
        with self._lock:
            self._answers[rewritten] = None
        return rewritten

    def rewritten(self, frame: DataFrame) -> bool:
        """Whether ``frame`` is a plan ``rewrite`` made over the latest rows."""
        with self._lock:
            return frame in self._answers

    def answer(self, frame: DataFrame, query: Query) -> pa.Table:
        """The rows of a rewritten plan: kept from its first run, else run now by ``query``
        (within its limits) and kept when small. ``query`` is closed either way."""
        with self._lock:
            kept = self._answers.get(frame)
        if kept is not None:
            query.close()
            return kept
        rows = query.read_all(frame)
        if rows.nbytes <= MAX_KEPT_ANSWER_BYTES:
            with self._lock:
                self._answers[frame] = rows
        return rows

    def _view(self, database: str, body: LogicalPlan) -> Table | None:
        """The user table of ``database`` whose view renders as ``body`` does."""
        label = self._view_label(body.display_indent())
        prefix = f"{database}."
        if label is None or not label.startswith(prefix):
            return None
        return self._resolve(database, (None, None, label.removeprefix(prefix)))

    def _resolve(self, database: str, fqn: tuple[str | None, str | None, str]) -> Table | None:
        """A scan's table, when it is a user table of ``database``."""
        catalog, schema, name = fqn
        if catalog not in (None, database) or schema not in (None, USER_SCHEMA):
            return None
        arrow = self._schema_of(database, name)
        if arrow is None:
            return None
        tags = frozenset(f.name for f in arrow if role_of(f) is ColumnRole.TAG)
        return Table(name, tuple(arrow.names), tags)
