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

from collections.abc import Callable, Mapping, Sequence

from datafusion import DataFrame, SessionContext

from flight_iox.errors import FlightIoxError
from flight_iox.query.contexts import Scope
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.partial_aggs import PartialAggregates
from flight_iox.query.placeholders import parameter_values, rewrite_placeholders
from flight_iox.query.pruned_plans import PrunedPlanner

# The warm context of a database for a statement, its tables refreshed (``QueryEngine``).
RefreshedContext = Callable[[str | None, str, Scope], SessionContext]
# The databases a statement's context holds.
Held = Callable[[str | None, str, Scope], list[str]]
# How a statement is planned in a context, its parameters bound.
Planner = Callable[..., DataFrame]
Params = Sequence[object] | Mapping[str, object]


class ProbePlanner:
    """Plans statements over the stand-ins, for the partial aggregates to answer."""

    def __init__(
        self,
        partials: PartialAggregates,
        pruner: PrunedPlanner,
        context: RefreshedContext,
        held: Held,
        planner: Planner,
        max_expression_depth: int,
    ) -> None:
        self._partials = partials
        self._pruner = pruner
        self._context = context
        self._held = held
        self._planner = planner
        self._max_depth = max_expression_depth

    def plan(
        self, database: str | None, sql: str, params: Params, scope: Scope, bound: bool = True
    ) -> DataFrame | None:
        """``sql`` planned over the stand-ins if partial aggregates may answer it; None:
        plan it over its files (on any error too: that plan reports it, as it always did).
        ``bound=False``: placeholders may stay unbound (for the schema only)."""
        if not self._partials.capacity_bytes or database is None:
            return None
        try:
            check_expression_depth(sql, self._max_depth)  # before DataFusion
            rewritten, count = rewrite_placeholders(sql)
            values = parameter_values(params, count, bound)
            context = self._context(database, sql, scope)
            held = self._held(database, sql, scope)

            def planned(in_context: SessionContext) -> DataFrame:
                return self._planner(in_context, sql=rewritten, values=values)

            frame = self._pruner.probe(context, database, held, rewritten, planned)
        except Exception as error:
            if isinstance(error, FlightIoxError) or is_engine_error(error):
                return None
            raise
        return frame if self._partials.may_answer(database, scope, frame) else None
