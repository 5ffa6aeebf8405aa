"""A buffer's settled rows: what ``TableSnapshot.version`` promises, proven.

Partial aggregates of the buffer's segments are kept across queries
(``query/partial_parts.py``) on one promise: two snapshots of the same buffer and epoch that
give the same version of their first ``n`` rows hold the same first ``n`` rows. Here random
writes (in order, late, with duplicate keys), freezes, persists, failed persists and deletes
are run against a buffer, and every pair of snapshots of one epoch is compared at every
``n``.
"""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc
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


def _same_where_versions_agree(older: TableSnapshot, newer: TableSnapshot) -> int:
    """The promise, at every row count; how many counts it was checked at."""
    assert older.epoch == newer.epoch
    checked = 0
    for rows in range(1, min(older.buffered.num_rows, newer.buffered.num_rows) + 1):
        version = older.version(rows)
        if version is not None and version == newer.version(rows):
            assert older.buffered.slice(0, rows).equals(newer.buffered.slice(0, rows)), rows
            checked += 1
    return checked


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
def test_snapshots_of_one_epoch_agree_where_their_versions_do(steps: list[tuple]) -> None:
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
            _same_where_versions_agree(earlier, snapshot)
        seen.setdefault(snapshot.epoch, []).append(snapshot)


def test_writes_in_time_order_keep_every_row_settled() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, 10), ("b", 2.0, 11)])
    first = buffer.snapshot(SCHEMA)[0]
    _write(buffer, [("a", 3.0, 12)])
    second = buffer.snapshot(SCHEMA)[0]
    assert first.epoch == second.epoch
    assert first.version(2) == second.version(2) == second.version(3) == 0
    assert first.version(3) is None  # it had two rows


def test_a_late_row_unsettles_the_rows_from_its_time_on() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    before = buffer.snapshot(SCHEMA)[0]
    _write(buffer, [("b", 9.0, 15)])  # rows at 15..19 are rewritten (merged with it)
    after = buffer.snapshot(SCHEMA)[0]
    assert after.rewrites == (5,) and after.buffered.num_rows == 11
    assert before.version(5) == after.version(5) == 0  # the rows before 15: the same
    assert before.version(6) != after.version(6)  # from 15 on: named anew
    _write(buffer, [("a", 1.0, 30)])  # in order: nothing rewritten
    assert buffer.snapshot(SCHEMA)[0].version(11) == after.version(11) == 1


def test_frozen_rows_keep_their_place_until_persisted() -> None:
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    before = buffer.snapshot(SCHEMA)[0]
    buffer.freeze(SCHEMA)
    _write(buffer, [("a", 2.0, 30)])
    during = buffer.snapshot(SCHEMA)[0]
    assert during.epoch == before.epoch and during.buffered.num_rows == 11
    assert during.version(10) == before.version(10) == 0
    _write(buffer, [("c", 2.0, 12)])  # late against the frozen rows: rewrites them from 12
    late = buffer.snapshot(SCHEMA)[0]
    assert late.rewrites == (2,) and late.version(2) == 0 and late.version(3) == 1
    _write(buffer, [("a", 2.0, 40)])  # in order again: the rows before it stay as they were
    settled = buffer.snapshot(SCHEMA)[0]
    assert settled.version(12) == late.version(12) == 1 and settled.buffered.num_rows == 13
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


def _expected(written: list[tuple[str, float | None, int]]) -> set[tuple[str, float | None, int]]:
    """Rows as InfluxDB keeps them: per (host, time), the last non-null ``f`` written."""
    last: dict[tuple[str, int], float | None] = {}
    for host, value, time in written:
        if value is not None or (host, time) not in last:
            last[(host, time)] = value
    return {(host, value, time) for (host, time), value in last.items()}


_content_row = st.tuples(  # times at and before 0 too: 0 is a time, not "none yet"
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.floats(-10, 10)),
    st.integers(-3, 30),
)
_content_step = st.one_of(
    st.tuples(st.just("write"), st.lists(_content_row, min_size=1, max_size=6)),
    st.tuples(st.sampled_from(["freeze", "persisted", "thaw", "delete b", "snapshot"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_content_step, min_size=1, max_size=30))
def test_a_snapshot_holds_the_rows_written_and_not_persisted(steps: list[tuple]) -> None:
    """Rows written during a persist are merged into the view queries read as they arrive,
    and into the rows that stay once it ends: both hold what the writes say, at any time,
    deletes and times at or before 0 included."""
    buffer = TableBuffer("cpu")
    frozen: list[tuple[str, float | None, int]] = []
    newer: list[tuple[str, float | None, int]] = []
    for step in steps:
        kind = step[0]
        if kind == "write":
            _write(buffer, step[1])
            newer += step[1]
        elif kind == "freeze" and not frozen and buffer.freeze(SCHEMA)[0] is not None:
            frozen, newer = newer, []
        elif kind == "persisted":
            buffer.persisted(())
            frozen = []
        elif kind == "thaw":
            buffer.thaw(SCHEMA)
            frozen, newer = [], frozen + newer
        elif kind == "delete b":
            buffer.filter_rows(SCHEMA, lambda table: table.filter(pc.field("host") != "b"))
            frozen = [row for row in frozen if row[0] != "b"]
            newer = [row for row in newer if row[0] != "b"]
        else:
            rows = buffer.snapshot(SCHEMA)[0].buffered
            times = rows["time"].cast(pa.int64()).to_pylist()
            got = set(zip(rows["host"].to_pylist(), rows["f"].to_pylist(), times, strict=True))
            assert got == _expected(frozen + newer)


def test_a_delete_that_reorders_rows_starts_a_new_epoch() -> None:
    """A delete's filter (DataFusion's) need not keep the rows' order, even removing none:
    the kept segments of the old order must not answer for the new one."""
    buffer = TableBuffer("cpu")
    _write(buffer, [("a", 1.0, t) for t in range(10, 20)])
    before = buffer.snapshot(SCHEMA)[0]
    assert buffer.filter_rows(SCHEMA, lambda table: table.take(list(range(9, -1, -1)))) == 0
    after = buffer.snapshot(SCHEMA)[0]
    assert after.epoch != before.epoch


def test_a_latest_time_of_zero_is_a_time() -> None:
    """Rows at 0 then -1 leave 0 the latest time: a row at 0 again is merged, not appended
    (the latest time read 0 as "none yet", and the buffer held the key twice)."""
    for during_a_persist in (False, True):
        buffer = TableBuffer("cpu")
        if during_a_persist:
            _write(buffer, [("z", 1.0, -10)])
            buffer.freeze(SCHEMA)
        for value, time in ((1.0, 0), (2.0, -1), (3.0, 0)):
            _write(buffer, [("a", value, time)])
            buffer.snapshot(SCHEMA)
        rows = buffer.snapshot(SCHEMA)[0].buffered
        found = sorted(zip(rows["host"].to_pylist(), rows["f"].to_pylist(), strict=True))
        assert found == sorted([("a", 2.0), ("a", 3.0)] + [("z", 1.0)] * during_a_persist)
