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
(its memory pool and settings), as ``execute_stream`` would.
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


def execute_stream(frame: DataFrame, reused: bool) -> RecordBatchStream:
    """``frame.execute_stream()``, from a kept physical plan when ``reused`` and safe.

    ``reused``: the statement cache runs this frame again (else it runs once, as before).
    """
    if not reused:
        return frame.execute_stream()
    with _LOCK:
        context = _CONTEXTS.get(frame)
        known = frame in _KEPT
        plan = _KEPT.get(frame)
    if context is None or (known and plan is None):
        return frame.execute_stream()
    if plan is None:
        plan = frame.execution_plan()
        if plan.partition_count != 1:  # planned twice, once per kept frame
            with _LOCK:
                _KEPT[frame] = None
            return frame.execute_stream()
        with _LOCK:
            _KEPT[frame] = plan if is_safe(plan) else None
    return context.execute(plan, 0)
