"""The DataFusion runs behind ``partial_aggs.py``: a part's partial states, a merge of partials,
and the final aggregate, fused with the partial states of the rows aggregated fresh.

A run costs about 3 ms whatever its rows: a session, planning, starting the stream
(in process, 2026-12-06: 3.2-3.8 ms for 0-16,000 buffered rows, 4.7 ms at 16,384). Beside
two writers on 2 cores, each hand-over to DataFusion's threads also waits for a core. Every
statement answered from partials made at least two runs. The first gave the partial states
of the rest: the buffer's newest rows and any files deduplicated with each other. The second
was the final aggregate over all partials. Now one plan does both: the kept partials,
UNION ALL the rest's partial aggregate, under the final aggregate.

That needs the rest's partial states unseen, so it is not done for a statement whose
partials count NaN and ``-0.0`` values (a grouped float ``min`` or ``max``,
``partial_final.py``: those counts must be read before the final aggregate). Such a
statement keeps its two runs. The answer is the same either way: the same partial states
meet the same final aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from datafusion import DataFrame, SessionContext

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query import partial_final as final
from flight_iox.query.execution import Query
from flight_iox.query.partial_plan import PartialShape
from flight_iox.query.registry import memory
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.tables import MEMORY_BATCH_ROWS, TableBuilder
from flight_iox.sql_quote import quote_identifier as q

SCRATCH = "__iox_partial_source"
FINAL = "__iox_partial_final"
# Partial states of at most this many rows are combined on the calling thread, in the one
# context for rows in memory (``Contexts.in_memory``): one memory batch, as ``pruned_plans``.
FEW_ROWS = MEMORY_BATCH_ROWS
# (database, table name, provider, single partition?) -> a context where that table resolves
Isolated = Callable[..., SessionContext]


@dataclass(frozen=True)
class Part:
    """Rows of one table to aggregate into partial states: a snapshot of files and buffered
    rows (deduplicated among themselves), under the table's schema."""

    schema: pa.Schema
    snapshot: TableSnapshot
    label: str
    needs: ScanNeeds | None


def fusable(shape: PartialShape) -> bool:
    """Whether the final aggregate may take the rest's partial states unseen: its partials
    count no NaN or ``-0.0`` (``partial_final._states``: grouped float min or max)."""
    return not (shape.groups and any(a.floating for a in shape.aggregates))


class PartialRuns:
    """Runs partial, merging and final aggregates, each in a context of its own."""

    def __init__(self, tables: TableBuilder, isolated: Isolated, in_memory: SessionContext) -> None:
        """``in_memory``: the one context for plans over few rows in memory
        (``Contexts.in_memory``); more rows get a context of their own each (``isolated``)."""
        self._tables = tables
        self._isolated = isolated
        self._in_memory = in_memory
        self.fuse = True  # False: the rest aggregated in a run of its own (benchmarks)

    def aggregate(self, database: str, shape: PartialShape, part: Part, query: Query) -> pa.Table:
        """The partial states of ``part``'s rows, its cached files cut to the rows ``needs``
        allow, as the plain plan's are (zone maps)."""
        states = final.partial_states(self._rows(database, shape, part)[1], shape)
        return final.plain_keys(query.read_all(states, keep=True))

    def merge(
        self, database: str, shape: PartialShape, partials: list[pa.Table], query: Query
    ) -> pa.Table | None:
        """``partials`` combined into one partial of the same columns (``partial_merge``)."""
        rows = final.concat(partials)
        frame, here = self._memory(database, rows)
        merged = query.read_all(final.merged_states(frame, shape), keep=True, here=here)
        return final.like(final.plain_keys(merged), rows.schema)

    def final(
        self,
        database: str,
        shape: PartialShape,
        partials: Sequence[pa.Table],
        rest: Part | None,
        schema: pa.Schema,
        query: Query,
    ) -> pa.Table | None:
        """DataFusion's final aggregate over ``partials`` and ``rest``'s partial states: the
        statement's output (None: one the plain plan answers in an order of its own,
        ``partial_final.py``)."""
        if rest is not None and not (self.fuse and fusable(shape)):
            partials = [*partials, self.aggregate(database, shape, rest, query)]
            rest = None
        rows = final.concat(partials) if partials else None
        if rows is not None and final.order_dependent(rows):
            return None
        here = False
        if rest is None:
            assert rows is not None, "a statement has a partial or a rest"
            frame, here = self._memory(database, rows)
        else:
            context, source = self._rows(database, shape, rest)
            frame = final.partial_states(source, shape)
            if rows is None:  # an aggregate straight over another fails on their names
                rows = pa.Table.from_batches([], frame.schema())
            frame = context.from_arrow(rows).union(frame)
        done = query.read_all(final.final_frame(frame, shape), keep=True, here=here)
        return final.as_output(done, shape, schema)

    def _rows(
        self, database: str, shape: PartialShape, part: Part
    ) -> tuple[SessionContext, DataFrame]:
        provider = self._tables.provider_and_rows(
            part.schema, part.snapshot, None, part.label, part.needs
        )[0]
        context = self._isolated(database, SCRATCH, provider, single=False)
        return context, context.sql(f"SELECT * FROM {q(SCRATCH)} AS {q(shape.alias)}")

    def _memory(self, database: str, rows: pa.Table) -> tuple[DataFrame, bool]:
        """A frame over partial states, and whether it is run on the calling thread: a few
        rows, in the shared context for rows in memory (bounded work, nothing waits). A
        context of its own, planning and a hop to DataFusion's threads took 0.8 ms of the 2.0
        ms of CPU of a ``count(*)`` from one kept partial (a scratch profile,
        docs/benchmarks.md); bench/partial_final.py times the statements it serves."""
        provider = self._tables.provider(rows.schema, memory(rows), None, "partial aggregates")
        if rows.num_rows <= FEW_ROWS:
            return self._in_memory.read_table(provider), True
        return self._isolated(database, FINAL, provider).sql(f"SELECT * FROM {q(FINAL)}"), False
