"""The buffer's ladder of kept partials: small segments kept as they settle, a big segment
merged from them, and its rows aggregated whole when one of them is gone.

Partials here are tables of the rows they cover (first row, count) and a merge concatenates
them, so each test sees exactly which rows were aggregated, which merged and which kept.
The answers of real statements over the ladder are checked against the plain plan in
``test_buffer_partials.py``.
"""

from __future__ import annotations

from collections.abc import Hashable

import pyarrow as pa

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.buffer_ladder import Runs, ladder_partials
from flight_iox.query.partial_store import PartialStore

SIZE, STEP = 16, 4  # big segments of 16 rows, small ones of 4


class Parts:
    """Aggregates and merges that record what they were asked for."""

    def __init__(self) -> None:
        self.aggregated: list[tuple[int, int]] = []
        self.merges = 0

    def aggregate(self, first: int, rows: int) -> pa.Table:
        self.aggregated.append((first, rows))
        return pa.table({"first": [first], "rows": [rows]})

    def merge(self, partials: list[pa.Table]) -> pa.Table | None:
        self.merges += 1
        return None if self.refuse else pa.concat_tables(partials)

    refuse = False  # merges answer None (DataFusion could not merge)


def _snapshot(rows: int, rewrites: tuple[int, ...] = (), epoch: int = 1) -> TableSnapshot:
    return TableSnapshot((), pa.table({"x": list(range(rows))}), (7, epoch), rewrites)


def _covered(partials: list[pa.Table]) -> list[tuple[int, int]]:
    """The (first row, rows) pieces the partials stand for, in order."""
    table = pa.concat_tables(partials) if partials else pa.table({"first": [], "rows": []})
    return list(zip(table["first"].to_pylist(), table["rows"].to_pylist(), strict=True))


def _key(identity: Hashable) -> Hashable:
    return ("db", "t", None, identity, b"statement")


def _ladder(
    snapshot: TableSnapshot, store: PartialStore, parts: Parts, step: int = STEP, size: int = SIZE
) -> tuple[list[pa.Table], int]:
    runs = Runs(_key, parts.aggregate, parts.merge, lambda partial: partial)
    return ladder_partials(snapshot, size, step, store, runs)


def test_small_segments_past_the_big_ones_and_a_short_rest() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    partials, rest_from = _ladder(_snapshot(27), store, parts)
    assert _covered(partials) == [(0, 16), (16, 4), (20, 4)]
    assert rest_from == 24  # fewer than a small segment's rows left fresh
    assert parts.aggregated == [(0, 16), (16, 4), (20, 4)]  # nothing kept yet
    again, _ = _ladder(_snapshot(27), store, parts)
    assert _covered(again) == _covered(partials)
    assert len(parts.aggregated) == 3  # all found kept


def test_a_settling_big_segment_is_merged_from_its_kept_small_ones() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    for rows in range(17, 32, 3):  # the buffer grows; each run keeps the new small segments
        _ladder(_snapshot(rows), store, parts)
    assert parts.aggregated == [(0, 16), (16, 4), (20, 4), (24, 4)]
    partials, rest_from = _ladder(_snapshot(33), store, parts)  # rows 16-31 settle as a big one
    assert rest_from == 32
    assert parts.aggregated[4:] == [(28, 4)]  # the small segment settling with it, alone
    assert parts.merges == 1
    assert _covered(partials) == [(0, 16), (16, 4), (20, 4), (24, 4), (28, 4)]
    _ladder(_snapshot(33), store, parts)
    assert parts.merges == 1  # the merged partial is kept


def test_small_partials_mostly_missing_have_the_big_segment_aggregated_whole() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    _ladder(_snapshot(30), store, parts)  # small segments 16-19, 20-23, 24-27 kept
    partials, _ = _ladder(_snapshot(33, rewrites=(18,)), store, parts)  # a late row at 18
    assert parts.aggregated[-1] == (16, 16)  # its small segments renamed: one run, not four
    assert parts.merges == 0
    assert _covered(partials) == [(0, 16), (16, 16)]


def test_a_new_epoch_names_every_segment_anew() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    _ladder(_snapshot(20), store, parts)
    before = len(parts.aggregated)
    _ladder(_snapshot(20, epoch=2), store, parts)
    assert parts.aggregated[before:] == [(0, 16), (16, 4)]


def test_rows_past_the_last_segment_and_rows_from_elsewhere_are_never_kept() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    partials, rest_from = _ladder(_snapshot(18), store, parts)
    assert _covered(partials) == [(0, 16)]
    assert rest_from == 16  # rows 16-17 fill no small segment of 4
    elsewhere = TableSnapshot((), pa.table({"x": list(range(40))}))  # no epoch: a query node
    assert _ladder(elsewhere, store, parts) == ([], 0)


def test_a_step_below_two_keeps_big_segments_alone() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    partials, rest_from = _ladder(_snapshot(40), store, parts, step=1)
    assert _covered(partials) == [(0, 16), (16, 16)]
    assert rest_from == 32


def test_a_merge_mixes_kept_small_partials_with_ones_a_rewrite_renamed() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    _ladder(_snapshot(30), store, parts)  # small segments 16-19, 20-23, 24-27 kept
    partials, _ = _ladder(_snapshot(33, rewrites=(26,)), store, parts)  # a late row at 26
    assert parts.aggregated[-2:] == [(24, 4), (28, 4)]  # renamed or new: two of four
    assert parts.merges == 1
    assert _covered(partials) == [(0, 16), (16, 4), (20, 4), (24, 4), (28, 4)]


def test_a_merged_big_segment_stands_for_its_small_ones_in_the_store() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    _ladder(_snapshot(30), store, parts)
    kept = len(store)
    _ladder(_snapshot(33), store, parts)
    assert len(store) == kept - 3 + 1  # three small partials out, the big one in
    store.discard(_key(("buffer", 7, 1, SIZE, 1, 0)))  # the big one aged out
    again, _ = _ladder(_snapshot(33), store, parts)
    assert parts.aggregated[-1] == (16, 16)  # its small ones are gone: aggregated whole
    assert _covered(again) == [(0, 16), (16, 16)]


def test_a_refused_merge_has_the_big_segment_aggregated_whole() -> None:
    store, parts = PartialStore(1 << 20), Parts()
    _ladder(_snapshot(30), store, parts)
    parts.refuse = True
    partials, _ = _ladder(_snapshot(33), store, parts)
    assert parts.aggregated[-1] == (16, 16)
    assert _covered(partials) == [(0, 16), (16, 16)]


def test_pieces_tile_the_settled_front_whatever_the_sizes() -> None:
    for size in (16, 15, 9, 7):
        for step in (1, 2, 3, 4):
            for rows in (0, 5, 16, 31, 47, 64):
                store, parts = PartialStore(1 << 20), Parts()
                for grown in range(0, rows + 1, 3):  # runs as the buffer grows, then one more
                    partials, rest_from = _ladder(_snapshot(grown), store, parts, step, size)
                partials, rest_from = _ladder(_snapshot(rows), store, parts, step, size)
                covered, at = _covered(partials), 0
                for first, count in sorted(covered):
                    assert first == at, (size, step, rows, covered)  # no gap, no overlap
                    at += count
                assert at == rest_from <= rows
