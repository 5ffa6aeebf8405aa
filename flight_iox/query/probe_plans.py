"""Planning a statement that kept partial aggregates answer, without registering its files.

A table with files is planned over one scan per file, or over the cached files' rows as one
in-memory table (``tables.py``). Building that costs time that grows with the files and the
rows cached: in issue 20's soak, where every write moves the buffer and so every statement
is planned again, it grew from 8 to 41 ms per statement over 15 minutes (72 files), most of
each prepare and a third of each run, while the answer itself came from kept partials
(``partial_aggs.py``), which build their own sources per file and need of the plan only its
logical shape and its schema.

So a statement is first planned over the tables as registered between statements (a table
with files is an empty stand-in of its schema: ``registry.Registration``), which costs the
same at any size. If partial aggregates would answer that plan, its schema is the prepared
statement's and its shape is what they compute; otherwise, or if they decline it at run
time, the statement is planned over its files as before (``engine.QueryEngine._plan``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
from datafusion import DataFrame, SessionContext

from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import FlightIoxError
from flight_iox.query.contexts import Scope
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.execution import Query
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.partial_aggs import PartialAggregates
from flight_iox.query.placeholders import parameter_values, rewrite_placeholders
from flight_iox.query.pruned_plans import PrunedPlanner

# The warm context of a default database holding these databases, in a scope, as the
# statement's refresh left them (``QueryEngine._context``).
StatementContext = Callable[[str | None, Sequence[str], Scope], SessionContext]
# How a statement is planned in a context, its parameters bound.
Planner = Callable[..., DataFrame]
Params = Sequence[object] | Mapping[str, object]
# A statement partials do not take (its shape, a retention period) or declined at run time (a
# NaN among grouped float minima, the partials past the query pool, DataFusion's refusal) is
# planned over its files for this long before it is probed again: probing it at every run
# would cost it one more plan each time.
DECLINED_SECONDS = 60.0
DECLINED_KEPT = 256  # statements remembered as declined, the oldest forgotten first


class ProbePlanner:
    """Plans statements over the stand-ins, for the partial aggregates to answer."""

    def __init__(
        self,
        partials: PartialAggregates,
        pruner: PrunedPlanner,
        context: StatementContext,
        planner: Planner,
        max_expression_depth: int,
        catalog: SchemaCatalog,
    ) -> None:
        """``catalog``: the databases that exist (no context is made for one that does not)."""
        self._partials = partials
        self._pruner = pruner
        self._context = context
        self._planner = planner
        self._max_depth = max_expression_depth
        self._catalog = catalog
        self._declined: OrderedDict[tuple[str | None, str, Scope], float] = OrderedDict()
        self._lock = threading.Lock()

    def answer(
        self,
        database: str | None,
        sql: str,
        scope: Scope,
        frame: DataFrame,
        probed: bool,
        query: Query,
    ) -> pa.Table | None:
        """``PartialAggregates.answer`` of ``frame`` (``probed``: this planner's plan of
        ``sql``), unless they declined the statement lately; a probed statement they
        decline is planned over its files for ``DECLINED_SECONDS`` (None: plan it so)."""
        key = (database, sql, scope)
        if self._declined_lately(key):
            return None
        answer = self._partials.answer(database, scope, frame, query)
        if answer is None and probed:
            self._remember(key)
        return answer

    def _exists(self, database: str) -> bool:
        with self._catalog.lock:
            return self._catalog.has_database(database)

    def _remember(self, key: tuple[str | None, str, Scope]) -> None:
        with self._lock:
            self._declined[key] = time.monotonic() + DECLINED_SECONDS
            self._declined.move_to_end(key)
            while len(self._declined) > DECLINED_KEPT:
                self._declined.popitem(last=False)

    def _declined_lately(self, key: tuple[str | None, str, Scope]) -> bool:
        with self._lock:
            until = self._declined.get(key)
        return until is not None and time.monotonic() < until

    def plan(
        self,
        database: str | None,
        sql: str,
        params: Params,
        scope: Scope,
        held: Sequence[str],
        bound: bool = True,
    ) -> DataFrame | None:
        """``sql`` planned over the stand-ins if partial aggregates may answer it; None:
        plan it over its files (on any error too: that plan reports it, as it always did).
        ``held``: the databases its context holds, as its key's refresh left them (the
        caller holds the registry's lock since: ``QueryEngine._statement_key``).
        ``bound=False``: placeholders may stay unbound (for the schema only)."""
        if not self._partials.capacity_bytes or database is None:
            return None
        if not self._exists(database):
            return None
        if self._declined_lately((database, sql, scope)):
            return None
        try:
            check_expression_depth(sql, self._max_depth)  # before DataFusion
            rewritten, count = rewrite_placeholders(sql)
            values = parameter_values(params, count, bound)
            context = self._context(database, held, scope)

            def planned(in_context: SessionContext) -> DataFrame:
                return self._planner(in_context, sql=rewritten, values=values)

            minimum = self._partials.min_rows
            frame = self._pruner.probe(context, database, held, rewritten, planned, minimum)
        except Exception as error:
            if isinstance(error, FlightIoxError) or is_engine_error(error):
                return None
            raise
        if frame is None:
            return None
        if not self._partials.may_answer(database, scope, frame):
            if bound:  # its shape, a retention period (unbound, a placeholder may be why)
                self._remember((database, sql, scope))
            return None
        return frame
