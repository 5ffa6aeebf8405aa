"""The buffer's settled rows as a ladder of kept partials: big segments merged from small ones.

Issue 20's soak was traced again on 2026-12-06 (a scratch probe timing each statement's
aggregate runs in the soak's server). With segments of 131,072 rows alone
(``partial_parts.settled_segments``), each run aggregated afresh the rows past the last
settled segment, from none to 131,071 (about 65,000 on average). The run at which a segment
settled aggregated all of its rows. Beside two writers on 2 cores that took 23-37 ms (2 ms
on an idle machine). Those runs were most of the tail outside persists: 9 of the 1,057
statements over 45 ms in one five-minute run.

So the rows past the last big segment are cut into small segments of ``size // step`` rows.
Each small segment is aggregated once, when it settles, and kept like any partial, so a run
aggregates afresh fewer than ``size // step`` rows. When a big segment settles, its partial
is the merge of its small segments' kept partials (``merge``: one DataFusion run over
``step`` partials of a row per group, as ``partial_merge`` merges files'), not a run over
its rows; its last small segment, which settles with it, is aggregated then. A big
segment's partial holds the partial states of exactly its rows, whichever way it was made.

If more than half of its small segments' partials are not kept, the big segment's rows are
aggregated whole, as before, rather than in as many runs. That happens when the store's
bound aged them out, or when a rewrite or a new epoch named them anew.

The step is 2 (small segments of 65,536 rows), not 8: a DataFusion run costs about 3 ms
whatever its rows, and the soak adds 16,000 rows between two runs of its statement, so with
16,384-row segments nearly every run made one more (2.02 runs a statement against 1.14, in
a five-minute soak with a scratch probe; the client's median rose from 31.5 to 38.5 ms).
With 65,536 rows it is one run in four (0.27 a statement with the rest fused into the final
aggregate, ``partial_runs.py``; median 32.3 ms). ``bench/buffer_ladder.py`` counts the same in
process: 0.36 runs a statement at step 2, 1.09 at step 8, both with the rest fused.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.partial_parts import settled_segments
from flight_iox.query.partial_store import PartialStore

SEGMENT_STEP = 2  # small segments per big one: 65,536 rows each under the default size


@dataclass(frozen=True)
class Runs:
    """What the ladder asks of its statement: the store's key of a part's partial (by the
    part's identity), a fresh aggregate of buffered rows (first row, rows), a merge of
    partials (None: it could not) and the count of each partial the statement holds
    (``HeldPartials.counted``: the query pool's bound)."""

    key_of: Callable[[Hashable], Hashable]
    aggregate: Callable[[int, int], pa.Table]
    merge: Callable[[list[pa.Table]], pa.Table | None]
    counted: Callable[[pa.Table], pa.Table]


def ladder_partials(
    snapshot: TableSnapshot, size: int, step: int, store: PartialStore, runs: Runs
) -> tuple[list[pa.Table], int]:
    """Kept partials covering the buffer's settled front once: one per big segment of
    ``size`` rows, then one per small segment of ``size // step`` rows after them (big
    segments alone when ``step`` is below 2 or does not divide ``size``: small segments
    must tile the big ones); and the first row of the rest, aggregated fresh."""
    big, end = settled_segments(snapshot, size)
    small_size = size // step if step > 1 and size % step == 0 else 0

    def kept(identity: Hashable, first: int, rows: int, merged: bool) -> pa.Table:
        """The segment's kept partial, else made (merged from small ones if ``merged``
        and they allow, else aggregated) and kept; counted against the statement's bound."""
        key = runs.key_of(identity)
        partial = store.get(key)
        if partial is None:
            if merged:
                partial = _merged_small(snapshot, small_size, first, rows, store, runs)
            if partial is None:
                partial = runs.aggregate(first, rows)
            store.keep(key, partial)
        return runs.counted(partial)

    partials = [kept(identity, first, rows, True) for identity, first, rows in big]
    if small_size <= 0:
        return partials, end
    small, rest_from = settled_segments(snapshot, small_size, end)
    partials += [kept(identity, first, rows, False) for identity, first, rows in small]
    return partials, rest_from


def _merged_small(
    snapshot: TableSnapshot, size: int, first: int, rows: int, store: PartialStore, runs: Runs
) -> pa.Table | None:
    """The merge of the partials of the small segments of rows ``first`` to ``first + rows``:
    kept ones, and the few not kept aggregated now (the last one settles with the big
    segment, so no run has kept it); None when more than half of them are not kept. The
    small ones' partials leave the store: the big one's stands for them from now on."""
    if size <= 0:
        return None
    small = settled_segments(snapshot, size, first, first + rows)[0]
    keys = [runs.key_of(identity) for identity, _, _ in small]
    kept = [store.get(key) for key in keys]
    if sum(partial is None for partial in kept) > len(small) // 2:
        return None
    merged = runs.merge([
        partial if partial is not None else runs.aggregate(at, count)
        for partial, (_, at, count) in zip(kept, small, strict=True)
    ])  # fmt: skip
    if merged is not None:
        for key in keys:
            store.discard(key)
    return merged
