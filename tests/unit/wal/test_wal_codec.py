"""The WAL payload codec round-trips validated batches exactly."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.wal import TableWrite, WalWrite, decode_write, encode_write


def _cpu_batch(rows: int = 5) -> pa.RecordBatch:
    schema = pa.schema(
        [
            role_field("host", TAG_TYPE, ColumnRole.TAG),
            role_field("region", TAG_TYPE, ColumnRole.TAG),
            role_field("usage", pa.float64(), ColumnRole.FIELD),
            role_field("count", pa.int64(), ColumnRole.FIELD),
            role_field("bytes", pa.uint64(), ColumnRole.FIELD),
            role_field("up", pa.bool_(), ColumnRole.FIELD),
            role_field("note", pa.string(), ColumnRole.FIELD),
            role_field("time", TIME_TYPE, ColumnRole.TIME),
        ],
        metadata={b"iox::measurement": b"cpu"},
    )
    hosts = pa.DictionaryArray.from_arrays(
        pa.array([i % 2 for i in range(rows)], pa.int32()), pa.array(["a", "b"])
    )
    regions = pa.DictionaryArray.from_arrays(
        pa.array([0 if i % 3 else None for i in range(rows)], pa.int32()), pa.array(["eu"])
    )
    columns = [
        hosts,
        regions,
        pa.array([float(i) / 3 if i % 2 else None for i in range(rows)], pa.float64()),
        pa.array([-(2**63) + i if i % 3 else None for i in range(rows)], pa.int64()),
        pa.array([2**64 - 1 - i for i in range(rows)], pa.uint64()),
        pa.array([bool(i % 2) if i != 1 else None for i in range(rows)], pa.bool_()),
        pa.array([f"ünïcode {i}" if i % 4 else None for i in range(rows)], pa.string()),
        pa.array([1_700_000_000_000_000_001 + i for i in range(rows)], TIME_TYPE),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _assert_same(decoded: WalWrite, original: WalWrite) -> None:
    assert decoded.database == original.database
    assert [t.table for t in decoded.tables] == [t.table for t in original.tables]
    for got, want in zip(decoded.tables, original.tables, strict=True):
        # equals(check_metadata=True) covers field metadata (roles) and schema metadata.
        assert got.batch.schema.equals(want.batch.schema, check_metadata=True)
        assert got.batch.equals(want.batch, check_metadata=True)
        for field in got.batch.schema:
            assert field.metadata == want.batch.schema.field(field.name).metadata


@pytest.mark.parametrize("compression", [None, "lz4", "zstd"])
def test_round_trip_with_dictionary_tags_all_field_types_nulls_and_metadata(
    compression: str | None,
) -> None:
    write = WalWrite(
        "telegraf",
        [TableWrite("cpu", _cpu_batch()), TableWrite("mem ðisk", _cpu_batch(1))],
    )
    decoded = decode_write(encode_write(write, compression=compression))
    _assert_same(decoded, write)
    host = decoded.tables[0].batch.column("host")
    assert host.type == TAG_TYPE
    assert host.dictionary.to_pylist() == ["a", "b"]
    assert decoded.tables[0].batch.column("time").type == TIME_TYPE
    assert decoded.tables[0].batch.column("region").null_count == 2


def test_round_trip_of_empty_and_sliced_batches() -> None:
    batch = _cpu_batch(10)
    write = WalWrite("db", [TableWrite("empty", batch.slice(0, 0)), TableWrite("s", batch[3:7])])
    decoded = decode_write(encode_write(write))
    _assert_same(decoded, write)
    assert decoded.tables[1].batch.to_pylist() == batch[3:7].to_pylist()


def test_round_trip_of_a_write_with_no_tables() -> None:
    decoded = decode_write(encode_write(WalWrite("db", [])))
    assert decoded == WalWrite("db", [])


def test_truncated_or_padded_payload_is_rejected() -> None:
    payload = encode_write(WalWrite("db", [TableWrite("cpu", _cpu_batch())]))
    with pytest.raises(ValueError, match="truncated"):
        decode_write(payload[:-20])
    with pytest.raises(ValueError, match="after its last table"):
        decode_write(payload + b"\0")
    with pytest.raises(ValueError, match="codec version"):
        decode_write(b"\x09" + payload[1:])


def test_overlong_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="database name"):
        encode_write(WalWrite("x" * 70_000, []))
