"""Physical plans kept with a reused logical plan, where running one again is known safe.

Why: DataFusion plans a DataFrame physically at every ``execute_stream`` (the logical
optimizer, then the physical planner and its optimizer): for TSBS single-groupby-1-1-1 over
cached rows that was ~0.7 ms of CPU per query, against ~0.08 ms to execute the same
``ExecutionPlan`` again (in process, one partition; docs/benchmarks.md, target 3).

Why not every plan: some operators keep what one run learned, or consume state once.
Measured on DataFusion 55: a kept ``ORDER BY .. LIMIT 3`` (TopK, whose dynamic filter keeps
the last run's threshold) lost a row on its second run over a memory table and every row
over a Parquet file, and a kept ``GROUP BY`` over a Parquet scan answered nothing the
second time (its file queue is consumed by the first run); hash joins build dynamic
filters and a one-shot build side, ``RepartitionExec`` consumes its channels. So a plan
is kept only when every operator is in ``SAFE``, its display names no dynamic filter, no
TopK, no fetch and no file scan (memory tables only), and it has one output partition.
``tests/unit/query/test_kept_physical_plans.py`` runs each kept shape twice against a
fresh plan, so a DataFusion upgrade that adds state to one of them fails there.

Only frames the statement cache reuses get a kept plan (``engine.py``: no time or random
function, no retention period; the logical plan is already reused for exactly the same
table state, scope and parameters), and a kept plan runs in the context that planned it
(its memory pool and settings), as ``execute_stream`` would. Not on a query node, whose
row counts miss the rows other nodes hold (what ``small`` relies on).
"""

from __future__ import annotations

import threading
import weakref

from datafusion import DataFrame, ExecutionPlan, SessionContext
from datafusion.record_batch import RecordBatchStream

# Operators that make fresh streams at every ``execute``, with nothing learned kept.
SAFE = frozenset(
    {"ProjectionExec", "FilterExec", "AggregateExec", "SortExec", "CoalesceBatchesExec"}
    | {"DataSourceExec", "PlaceholderRowExec", "EmptyExec"}
)
# What a safe operator's line may not show: a dynamic filter, TopK, a fetch, a file scan.
_UNSAFE_TEXT = ("DynamicFilter", "TopK", "fetch=", "file_type=", "file_groups=", "filter=[")

_LOCK = threading.Lock()
_CONTEXTS: weakref.WeakKeyDictionary[DataFrame, SessionContext] = weakref.WeakKeyDictionary()
_KEPT: weakref.WeakKeyDictionary[DataFrame, ExecutionPlan | None] = weakref.WeakKeyDictionary()
_SMALL: weakref.WeakSet[DataFrame] = weakref.WeakSet()


def planned_in(frame: DataFrame, context: SessionContext) -> DataFrame:
    """Remember the context ``frame`` was planned in (where a kept plan of it runs)."""
    with _LOCK:
        _CONTEXTS[frame] = context
    return frame


def is_safe(plan: ExecutionPlan) -> bool:
    """Whether ``plan`` may be executed again: one partition, only ``SAFE`` operators."""
    if plan.partition_count != 1:
        return False
    for line in plan.display_indent().splitlines():
        name = line.strip().split(":", 1)[0]
        if name not in SAFE or any(mark in line for mark in _UNSAFE_TEXT):
            return False
    return True


def kept_stream(frame: DataFrame, reused: bool) -> RecordBatchStream | None:
    """A stream of ``frame`` from its kept physical plan (made now, at its first run), or
    None when it has none: not ``reused`` (the statement cache runs it once), or unsafe.

    The caller then runs ``frame`` as before; a frame found unsafe is planned twice, once.
    """
    if not reused:
        return None
    with _LOCK:
        context = _CONTEXTS.get(frame)
        known = frame in _KEPT
        plan = _KEPT.get(frame)
    if context is None or (known and plan is None):
        return None
    if plan is None:
        plan = frame.execution_plan()
        if not is_safe(plan):
            plan = None
        with _LOCK:
            _KEPT[frame] = plan
        if plan is None:
            return None
    return context.execute(plan, 0)


def is_small(frame: DataFrame) -> bool:
    """Whether ``frame`` was marked ``small``."""
    with _LOCK:
        return frame in _SMALL


def small(frame: DataFrame) -> DataFrame:
    """Mark ``frame`` as reading at most ``pruned_plans.SMALL_ROWS`` rows in all.

    A safe plan of it (no join, nothing that waits: memory tables only) does a bounded
    amount of work, so its batches are pulled on the calling thread, as a statement that
    reads no data is (``execution.py``), without a hop to DataFusion's threads per batch.
    """
    with _LOCK:
        _SMALL.add(frame)
    return frame
