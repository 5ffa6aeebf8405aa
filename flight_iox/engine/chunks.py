"""Keep a buffered table in few chunks, copying each row only a few times.

Each write appends its batch to the buffer as a chunk, zero-copy. A buffer of a
minute's writes then holds thousands of chunks, and every query's refresh pays per
chunk: exporting each to DataFusion, reading each tag dictionary for the overlap
bounds (issue 20's soak: a third of a query's time). Combining the whole buffer at
each snapshot would copy every row at every query instead.

So chunks are combined in tiers, as a log-structured merge does: a chunk's tier is
``log_FANOUT`` of its rows. Whenever, for some tier ``t`` below ``SETTLED_TIER``, the
trailing chunks of tier ``t`` or less number ``FANOUT`` or more, they become one chunk
(smallest ``t`` first). Chunks of equal size climb a tier at each copy, so a row is
copied about once per tier (twice for 2,000-row writes), and a table ends with fewer
than ``FANOUT`` unsettled chunks at its tail, after its settled ones (of
``FANOUT ** SETTLED_TIER`` rows or more).
"""

from __future__ import annotations

import pyarrow as pa

FANOUT = 16
SETTLED_TIER = 4  # chunks of 65,536 rows or more are left as they are


def tier(rows: int) -> int:
    """The tier of a chunk of ``rows`` rows (0 for fewer than ``FANOUT``)."""
    level = 0
    while rows >= FANOUT and level < SETTLED_TIER:
        rows //= FANOUT
        level += 1
    return level


def consolidated(table: pa.Table) -> pa.Table:
    """``table`` with its trailing small chunks combined tier by tier (same rows, same order)."""
    batches = table.to_batches()
    if len(batches) < FANOUT:
        return table
    tiers = [tier(b.num_rows) for b in batches]
    combines = 0
    level = 0
    while level < SETTLED_TIER:
        count = _trailing(tiers, level)
        if count < FANOUT:
            level += 1
            continue
        combined = pa.Table.from_batches(batches[-count:], table.schema).combine_chunks()
        batch = combined.to_batches()[0]
        batches[-count:] = [batch]
        tiers[-count:] = [tier(batch.num_rows)]
        combines += 1
        level = 0
    return pa.Table.from_batches(batches, table.schema) if combines else table


def _trailing(tiers: list[int], level: int) -> int:
    """How many chunks at the end have a tier of ``level`` or less."""
    count = 0
    for value in reversed(tiers):
        if value > level:
            break
        count += 1
    return count
