"""Merging deduplicated buffered rows, and the bytes a buffer's view of them holds.

Helpers of ``buffer.py``: a table buffer merges newly written rows into its rows (and,
during a persist, into its view of the rows being persisted) at each snapshot, and counts
the bytes the view holds beside the rows it shares with the frozen table.
"""

from __future__ import annotations

import pyarrow as pa

from flight_iox.engine.dedupe import appended, deduplicate, has_duplicate_keys, time_range


def merge_ordered(
    older: pa.Table | None, newer: pa.Table, older_max_time: int | None
) -> tuple[pa.Table, int]:
    """``older`` (deduplicated) then ``newer``, deduplicated where they share times; and
    how many of ``older``'s first rows were kept as they were (``dedupe.appended``)."""
    if has_duplicate_keys(newer):
        newer = deduplicate(newer)
    return append_unique(older, newer, older_max_time)


def append_unique(
    older: pa.Table | None, newer: pa.Table, older_max_time: int | None
) -> tuple[pa.Table, int]:
    """``merge_ordered`` of a ``newer`` already without duplicate keys."""
    bounds = time_range(newer)
    if bounds is None:
        return (older, older.num_rows) if older is not None else (newer, 0)
    if older is None or older.num_rows == 0:
        return newer, 0
    if older_max_time is not None and bounds[0] > older_max_time:
        return pa.concat_tables([older, newer]), older.num_rows
    return appended(older, newer)


def buffers(table: pa.Table) -> dict[int, int]:
    """Size of each distinct memory buffer ``table`` holds, by address (dictionaries too)."""
    found: dict[int, int] = {}
    for column in table.columns:
        for chunk in column.chunks:
            arrays = [chunk, chunk.dictionary] if pa.types.is_dictionary(chunk.type) else [chunk]
            for array in arrays:
                for buffer in array.buffers():
                    if buffer is not None:
                        found[buffer.address] = buffer.size
    return found


def bytes_beside(view: pa.Table, shared: dict[int, int]) -> int:
    """Bytes ``view`` holds beside the ``shared`` buffers (the frozen rows': the view holds
    their chunks up to where a late row made it copy them)."""
    return sum(size for address, size in buffers(view).items() if address not in shared)


def later(known: int | None, time: int) -> int:
    """The later of a known latest time (None: none yet) and ``time`` (0 is a time)."""
    return time if known is None else max(known, time)


def max_time(table: pa.Table) -> int | None:
    """The latest ``time`` of ``table`` in nanoseconds (None when it is empty)."""
    bounds = time_range(table)
    return None if bounds is None else bounds[1]
