"""A buffer's settled front: what ``TableSnapshot.unchanged_rows`` promises, proven.

Partial aggregates of the buffer's first rows are kept across queries
(``query/partial_parts.py``) on one promise: two snapshots of the same buffer and epoch hold
the same rows, at the same places, up to the smaller of their ``unchanged_rows``. Here
random writes (in order, late, with duplicate keys), freezes, persists, failed persists and
deletes are run against a buffer, and every pair of snapshots of one epoch is compared.
"""

from __future__ import annotations

import itertools

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.engine.buffer import TableBuffer, TableSnapshot

SCHEMA = pa.schema(
    [
        role_field("host", TAG_TYPE, ColumnRole.TAG),
        role_field("f", pa.float64(), ColumnRole.FIELD),
        role_field("time", TIME_TYPE, ColumnRole.TIME),
    ]
)
_sequences = itertools.count(1)


def _batch(rows: list[tuple[str, float | None, int]]) -> pa.RecordBatch:
    hosts, values, times = zip(*rows, strict=True)
    return pa.record_batch(
        [
            pa.array(hosts).dictionary_encode(),
            pa.array(values, pa.float64()),
            pa.array(times, pa.int64()).view(TIME_TYPE),
        ],
        schema=SCHEMA,
    )


def _write(buffer: TableBuffer, rows: list[tuple[str, float | None, int]]) -> None:
    buffer.append(next(_sequences), _batch(rows))


def _same_front(older: TableSnapshot, newer: TableSnapshot) -> None:
    """The promise: one epoch's snapshots agree on their common unchanged front."""
    assert older.epoch == newer.epoch
    front = min(older.unchanged_rows, newer.unchanged_rows)
    assert front <= min(older.buffered.num_rows, newer.buffered.num_rows)
    assert older.buffered.slice(0, front).equals(newer.buffered.slice(0, front))


_row = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.floats(-10, 10)),
    st.integers(0, 200),
)
_step = st.one_of(
    st.tuples(st.just("write"), st.lists(_row, min_size=1, max_size=6)),
    st.tuples(st.just("append in order"), st.integers(1, 6)),
    st.tuples(st.sampled_from(["freeze", "persisted", "thaw", "delete", "snapshot"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, min_size=1, max_size=30))
def test_snapshots_of_one_epoch_agree_on_their_unchanged_front(steps: list[tuple]) -> None:
    buffer = TableBuffer("cpu")
    seen: dict[tuple[int, int] | None, list[TableSnapshot]] = {}
    clock = 1_000
    for step in steps:
        kind = step[0]
        if kind == "write":
            _write(buffer, step[1])
        elif kind == "append in order":
            _write(buffer, [("a", 1.0, clock + n) for n in range(step[1])])
            clock += step[1]
        elif kind == "freeze":
            buffer.freeze(SCHEMA)
        elif kind == "persisted":
            buffer.persisted(())
        elif kind == "thaw":
            buffer.thaw(SCHEMA)
        elif kind == "delete":
            buffer.filter_rows(SCHEMA, lambda table: table.slice(1))
        snapshot = buffer.snapshot(SCHEMA)[0]
        for earlier in seen.get(snapshot.epoch, []):
            _same_front(earlier, snapshot)
        seen.setdefault(snapshot.epoch, []).append(snapshot)


def test_writes_in_time_order_keep_every_row_settled() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, 10), ("b", 2.0, 11)])
    first = buffer.snapshot(SCHEMA)[0]
    _write(buffer, [("a", 3.0, 12)])
    second = buffer.snapshot(SCHEMA)[0]
    assert (first.unchanged_rows, second.unchanged_rows) == (2, 3)
    assert first.epoch == second.epoch


def test_a_late_row_unsettles_the_rows_from_its_time_on() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    assert buffer.snapshot(SCHEMA)[0].unchanged_rows == 10
    _write(buffer, [("b", 9.0, 15)])  # rows at 15..19 are rewritten (merged with it)
    snapshot = buffer.snapshot(SCHEMA)[0]
    assert snapshot.unchanged_rows == 5
    assert snapshot.buffered.num_rows == 11


def test_frozen_rows_keep_their_place_until_persisted() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    before = buffer.snapshot(SCHEMA)[0]
    buffer.freeze(SCHEMA)
    _write(buffer, [("a", 2.0, 30)])
    during = buffer.snapshot(SCHEMA)[0]
    assert during.epoch == before.epoch and during.unchanged_rows == 11
    _write(buffer, [("c", 2.0, 12)])  # late against the frozen rows: unsettles them from 12
    assert buffer.snapshot(SCHEMA)[0].unchanged_rows == 2
    buffer.persisted(())
    after = buffer.snapshot(SCHEMA)[0]
    assert after.epoch != before.epoch


def test_a_failed_persist_and_a_delete_start_new_epochs() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    epochs = [buffer.snapshot(SCHEMA)[0].epoch]
    buffer.freeze(SCHEMA)
    buffer.thaw(SCHEMA)
    epochs.append(buffer.snapshot(SCHEMA)[0].epoch)
    buffer.filter_rows(SCHEMA, lambda table: table.slice(1))
    epochs.append(buffer.snapshot(SCHEMA)[0].epoch)
    assert len(set(epochs)) == 3
