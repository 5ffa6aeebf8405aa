"""A persist's tag columns: the order to sort by, sort keys, and one dictionary per file.

Tags arrive as dictionaries (the write buffer encodes them); a persist sorts a million rows
by them and stores each as a dictionary of the values its file holds. Working on the
dictionaries' indices instead of decoded strings is what keeps this cheap: a persist's CPU
is what slows the queries that run beside it (``bench/soak.py`` splits their latency by it).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import ColumnRole
from iox_catalog.schema import ColumnKinds


def sort_tags(data: pa.Table, kinds: ColumnKinds) -> list[str]:
    """The tag columns in sort order: most distinct values first, ties by name."""
    tags = sorted(
        n for n, kind in kinds.items() if kind is ColumnRole.TAG and n in data.column_names
    )
    distinct = {t: _distinct(data.column(t)) for t in tags}
    return sorted(tags, key=lambda t: (-distinct[t], t))


def _distinct(column: pa.ChunkedArray) -> int:
    """Distinct values, a null counted as one: for a dictionary column, of its indices into
    one unified dictionary, not of its decoded strings (a 1M-row soak buffer: 17 ms of a
    persist's CPU decoding and hashing strings). Exact for dictionaries of unique values, as
    the write buffer makes them (``dictionary_encode``, ``np.unique``); Arrow allows
    repeated values, which would count twice."""
    if not unifiable(column):
        return int(pc.count_distinct(_plain(column), mode="all").as_py())
    unified = column.unify_dictionaries()
    indices = pa.chunked_array([chunk.indices for chunk in unified.chunks], column.type.index_type)
    return int(pc.count_distinct(indices, mode="all").as_py())


def unifiable(column: pa.ChunkedArray) -> bool:
    """A dictionary column Arrow can unify (it cannot when a dictionary holds a null)."""
    return (
        pa.types.is_dictionary(column.type)
        and column.num_chunks > 0
        and not any(chunk.dictionary.null_count for chunk in column.chunks)
    )


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column


def sort_key(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """What to sort a tag column by: for a dictionary, each row's rank of its value among
    the dictionary's values (null rows stay null), which orders the rows as their strings do.

    Sorting integers instead of strings made a persist's sort about 5x cheaper (a 1M-row
    soak buffer: 1.0 s of CPU), and the persister's CPU is what slowed the queries that
    ran during a persist (``bench/soak.py`` splits their latency by it).
    """
    if not unifiable(column):
        return _plain(column)
    unified = column.unify_dictionaries()
    ranks = pc.rank(unified.chunk(0).dictionary, sort_keys="ascending", tiebreaker="dense")
    return pa.chunked_array([pc.take(ranks, chunk.indices) for chunk in unified.chunks], ranks.type)


def with_tag_dictionaries(rows: pa.Table, tags: list[str]) -> pa.Table:
    """Each tag as one dictionary of just the values it holds (so statistics stay exact),
    in the order they first appear, as ``dictionary_encode`` orders them (for the buffer's
    dictionaries of unique values: see ``_distinct``)."""
    for tag in tags:
        index = rows.schema.get_field_index(tag)
        column = rows.column(tag)
        if unifiable(column):  # its used values kept: no decode and encode again
            encoded = _compacted(column.unify_dictionaries().combine_chunks())
        else:
            encoded = pc.dictionary_encode(column.combine_chunks())
        rows = rows.set_column(index, tag, encoded)
    return rows


def _compacted(column: pa.DictionaryArray) -> pa.DictionaryArray:
    """``column`` with a dictionary of only the values its rows use, in first-use order
    (a 1M-row persist: decoding its tags to strings and encoding them again took 40 ms)."""
    used = pc.unique(column.indices).drop_null()
    places = np.zeros(len(column.dictionary), np.int32)
    places[used.to_numpy()] = np.arange(len(used), dtype=np.int32)
    indices = pc.take(pa.array(places), column.indices)
    return pa.DictionaryArray.from_arrays(indices, column.dictionary.take(used))
