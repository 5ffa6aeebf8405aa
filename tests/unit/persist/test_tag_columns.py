"""A persist's tag columns worked on as dictionaries give what decoded strings give.

Each tag of a file is one dictionary of the values its rows use, in first-use order, as
``dictionary_encode`` of the decoded strings makes it (so files are byte for byte what they
were); distinct counts (which order the sort) are those of the strings. Checked over
buffers of several chunks with their own dictionaries, unused values, nulls among the rows,
and a dictionary holding a null (which Arrow cannot unify: the strings' path is taken).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight_iox.persist.tag_columns import _distinct, unifiable, with_tag_dictionaries

VALUES = ["a", "b", "host-1", "é", "zz", "", "x/y"]


def _chunk(rows: list[str | None], extra: list[str]) -> pa.DictionaryArray:
    """Rows as a dictionary chunk whose dictionary also holds ``extra`` unused values."""
    dictionary = list(dict.fromkeys([*extra, *(r for r in rows if r is not None)]))
    indices = [None if r is None else dictionary.index(r) for r in rows]
    return pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32()), pa.array(dictionary, pa.string())
    )


chunks = st.lists(
    st.tuples(
        st.lists(st.sampled_from([*VALUES, None]), min_size=0, max_size=30),
        st.lists(st.sampled_from(VALUES), max_size=3),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(chunks)
def test_dictionaries_and_counts_match_the_strings(parts: list) -> None:
    column = pa.chunked_array([_chunk(rows, extra) for rows, extra in parts])
    strings = column.cast(pa.string())
    assert _distinct(column) == pc.count_distinct(strings, mode="all").as_py()
    got = with_tag_dictionaries(pa.table({"t": column}), ["t"]).column("t").chunk(0)
    want = pc.dictionary_encode(strings.combine_chunks())
    assert got.dictionary.equals(want.dictionary)
    assert got.indices.equals(want.indices)
    assert got.type == want.type


@pytest.mark.parametrize("kind", ["null in a dictionary", "plain strings"])
def test_columns_arrow_cannot_unify_take_the_strings_path(kind: str) -> None:
    if kind == "plain strings":
        column = pa.chunked_array([pa.array(["b", None, "a", "b"])])
    else:
        indices = pa.array([0, 1, 1, 0], pa.int32())
        column = pa.chunked_array([pa.DictionaryArray.from_arrays(indices, pa.array(["b", None]))])
    assert not unifiable(column)
    strings = column.cast(pa.string())
    assert _distinct(column) == pc.count_distinct(strings, mode="all").as_py()
    got = with_tag_dictionaries(pa.table({"t": column}), ["t"]).column("t").chunk(0)
    assert got.to_pylist() == strings.to_pylist()
