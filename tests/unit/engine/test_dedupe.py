"""Deduplication on (tags, time): last write wins, field by field."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.engine.buffer import BufferSet, conform
from flight_iox.engine.dedupe import append_deduplicated, deduplicate, has_duplicate_keys

SCHEMA = pa.schema(
    [
        role_field("host", TAG_TYPE, ColumnRole.TAG),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
        role_field("count", pa.int64(), ColumnRole.FIELD),
        role_field("time", TIME_TYPE, ColumnRole.TIME),
    ]
)


def batch(hosts, usage, count, times) -> pa.RecordBatch:
    return pa.record_batch(
        [
            pa.array(hosts).dictionary_encode(),
            pa.array(usage, pa.float64()),
            pa.array(count, pa.int64()),
            pa.array(times, pa.int64()).view(TIME_TYPE),
        ],
        schema=SCHEMA,
    )


def test_later_write_wins_field_by_field() -> None:
    table = pa.Table.from_batches(
        [batch(["a", "a", "b"], [1.0, None, 5.0], [10, 20, None], [1, 1, 1])]
    )
    assert has_duplicate_keys(table)
    result = sorted(deduplicate(table).to_pylist(), key=lambda r: r["host"])
    assert [(r["host"], r["usage"], r["count"]) for r in result] == [
        ("a", 1.0, 20),
        ("b", 5.0, None),
    ]


def test_null_tag_is_its_own_series() -> None:
    table = pa.Table.from_batches([batch([None, "a", None], [1.0, 2.0, 3.0], [1, 2, 3], [5, 5, 5])])
    result = deduplicate(table).to_pylist()
    by_host = {r["host"]: r["usage"] for r in result}
    assert by_host == {None: 3.0, "a": 2.0}
    assert deduplicate(table).schema.equals(SCHEMA, check_metadata=True)


def test_no_duplicates_detected() -> None:
    table = pa.Table.from_batches([batch(["a", "b"], [1.0, 2.0], [1, 2], [1, 1])])
    assert not has_duplicate_keys(table)


def test_buffer_merges_in_order_appends_without_dedupe_and_out_of_order_with() -> None:
    buffers = BufferSet()
    buffers.append("db", "cpu", 1, batch(["a"], [1.0], [1], [10]))
    buffers.append("db", "cpu", 2, batch(["a"], [2.0], [2], [20]))
    assert buffers.snapshot("db", "cpu", SCHEMA).buffered.num_rows == 2
    # An overwrite of an older point that omits ``count``: usage replaced, count kept.
    buffers.append("db", "cpu", 3, batch(["a"], [9.0], [None], [10]))
    rows = sorted(
        buffers.snapshot("db", "cpu", SCHEMA).buffered.to_pylist(), key=lambda r: r["time"]
    )
    assert [(r["usage"], r["count"]) for r in rows] == [(9.0, 1), (2.0, 2)]


def test_buffer_applies_writes_in_sequence_order() -> None:
    buffers = BufferSet()
    buffers.append("db", "cpu", 5, batch(["a"], [5.0], [5], [1]))
    buffers.append("db", "cpu", 4, batch(["a"], [4.0], [4], [1]))
    rows = buffers.snapshot("db", "cpu", SCHEMA).buffered.to_pylist()
    assert [(r["usage"], r["count"]) for r in rows] == [(5.0, 5)]


def test_older_batches_read_newer_columns_as_null() -> None:
    narrow = pa.schema([SCHEMA.field("host"), SCHEMA.field("time")])
    old = pa.record_batch(
        [pa.array(["a"]).dictionary_encode(), pa.array([1], pa.int64()).view(TIME_TYPE)],
        schema=narrow,
    )
    buffers = BufferSet()
    buffers.append("db", "cpu", 1, old)
    buffers.append("db", "cpu", 2, batch(["b"], [1.0], [7], [2]))
    rows = sorted(
        buffers.snapshot("db", "cpu", SCHEMA).buffered.to_pylist(), key=lambda r: r["time"]
    )
    assert rows[0]["usage"] is None and rows[0]["count"] is None
    assert rows[1]["count"] == 7
    assert conform(pa.Table.from_batches([old]), SCHEMA).schema == SCHEMA


def test_memory_is_accounted_and_released_on_drop() -> None:
    buffers = BufferSet()
    buffers.append("db", "cpu", 1, batch(["a"] * 100, [1.0] * 100, [1] * 100, list(range(100))))
    assert buffers.total_bytes > 100 * 16
    buffers.drop_database("db")
    assert buffers.total_bytes == 0


@pytest.mark.parametrize("tag", ["..", "a.b", ".x", "[0]"])
def test_tags_named_like_field_paths(tag: str) -> None:
    """Found by fuzzing: a tag named ".." made pyarrow's group_by fail (every query, 500)."""
    schema = pa.schema(
        [
            role_field(tag, TAG_TYPE, ColumnRole.TAG),
            role_field("v", pa.float64(), ColumnRole.FIELD),
            role_field("time", TIME_TYPE, ColumnRole.TIME),
        ]
    )
    columns = [
        pa.array(["a", "a", "b"]).dictionary_encode().cast(TAG_TYPE),
        pa.array([1.0, None, 3.0]),
        pa.array([1, 1, 1], pa.int64()).view(TIME_TYPE),
    ]
    table = pa.Table.from_arrays(columns, schema=schema)
    assert has_duplicate_keys(table)
    deduped = deduplicate(table)
    assert deduped.schema == table.schema
    pairs = zip(deduped.column(tag).to_pylist(), deduped.column("v").to_pylist(), strict=True)
    assert sorted(pairs) == [("a", 1.0), ("b", 3.0)]


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: (r["host"], r["time"]))


@pytest.mark.parametrize("seed", range(20))
def test_append_deduplicated_equals_deduplicating_everything(seed: int) -> None:
    """Only the shared times are hashed; the answer is that of deduplicating the union."""
    import random

    rng = random.Random(seed)

    def unique(first: int, last: int, rows: int) -> pa.Table:
        table = pa.Table.from_batches(
            [
                batch(
                    [rng.choice("abc") for _ in range(rows)],
                    [rng.choice([None, float(rng.randint(0, 9))]) for _ in range(rows)],
                    [rng.choice([None, rng.randint(0, 9)]) for _ in range(rows)],
                    [rng.randint(first, last) for _ in range(rows)],
                )
            ]
        )
        return deduplicate(table)

    older = unique(0, rng.randint(0, 40), rng.randint(0, 30))
    newer = unique(rng.randint(-5, 40), 60, rng.randint(0, 30))
    expected = deduplicate(pa.concat_tables([older, newer]))
    assert _sorted(append_deduplicated(older, newer)) == _sorted(expected)


def test_two_writers_interleaving_in_the_buffer_keep_every_row() -> None:
    buffers = BufferSet()
    buffers.append("db", "t", 1, batch(["a", "a"], [1.0, 2.0], [1, 2], [10, 20]))
    assert buffers.snapshot("db", "t", SCHEMA).buffered.num_rows == 2
    buffers.append("db", "t", 2, batch(["b", "b"], [3.0, 4.0], [3, 4], [15, 25]))  # late
    buffers.append("db", "t", 3, batch(["a"], [None], [9], [20]))  # rewrites a@20's count
    rows = _sorted(buffers.snapshot("db", "t", SCHEMA).buffered)
    assert [(r["host"], r["usage"], r["count"], r["time"].value) for r in rows] == [
        ("a", 1.0, 1, 10),
        ("a", 2.0, 9, 20),
        ("b", 3.0, 3, 15),
        ("b", 4.0, 4, 25),
    ]
