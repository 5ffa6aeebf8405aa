"""JSON rows built column-wise say what the row-by-row encoder says."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from flight_iox.query.formats import COLUMNWISE_MIN_ROWS, FORMATS
from flight_iox.query.json_rows import iso_text, json_rows

ROW_BY_ROW = json.JSONEncoder(default=str)


def encoded(batch: pa.RecordBatch, name: str = "json") -> bytes:
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    return b"".join(FORMATS[name].encode(reader))


def parsed(text: bytes | str) -> list[dict]:
    def same_nan(value: object) -> object:
        return "NaN" if isinstance(value, float) and math.isnan(value) else value

    return [{k: same_nan(v) for k, v in row.items()} for row in json.loads(text)]


def test_every_supported_type_reads_back_as_the_row_encoder_writes_it() -> None:
    rng = np.random.default_rng(0)
    n = 400
    batch = pa.record_batch(
        {
            "host": pa.array(
                [None if i % 9 == 0 else f"h_{i % 7}" for i in range(n)]
            ).dictionary_encode(),
            "s": pa.array([None if i % 3 == 0 else f'q"\\ {i}\n\t\r\b\f' for i in range(n)]),
            "f": pa.array(rng.standard_normal(n) * 10.0 ** rng.integers(-12, 14, n)),
            "whole": pa.array([float(i) if i % 4 else None for i in range(n)]),
            "odd": pa.array([math.nan, math.inf, -math.inf, -0.0] * (n // 4)),
            "f32": pa.array(rng.standard_normal(n).astype(np.float32)),
            "i": pa.array(range(-n, n, 2), pa.int64()),
            "u": pa.array(range(n), pa.uint64()),
            "b": pa.array([i % 2 == 0 if i % 7 else None for i in range(n)]),
            "nothing": pa.nulls(n),
        }
    )
    rows = batch.to_pylist()
    expected = "[" + ",".join(map(ROW_BY_ROW.encode, rows)) + "]"
    got = encoded(batch)
    assert parsed(got) == parsed(expected)
    first = json.loads(got)[1]
    assert isinstance(first["whole"], float)  # 1.0 is printed 1.0, not 1


def test_times_print_0_3_6_or_9_fraction_digits() -> None:
    nanos = [0, 1_000_000_000, 1_500_000_000, 1_000_001_000, 1_000_000_001, -1, None]
    column = pa.array(nanos, pa.timestamp("ns"))
    assert iso_text(column).to_pylist() == [
        "1970-01-01T00:00:00",
        "1970-01-01T00:00:01",
        "1970-01-01T00:00:01.500",
        "1970-01-01T00:00:01.000001",
        "1970-01-01T00:00:01.000000001",
        "1969-12-31T23:59:59.999999999",
        None,
    ]
    micros = pa.array([1_500_000, 1_000_001], pa.timestamp("us"))
    assert iso_text(micros).to_pylist() == ["1970-01-01T00:00:01.500", "1970-01-01T00:00:01.000001"]


def test_unicode_is_utf8_and_json_lines_end_each_row() -> None:
    batch = pa.record_batch({"név": ["é✓", "x"], "n": [1, 2]})
    expected = '{"n\\u00e9v":"é✓","n":1}\n{"n\\u00e9v":"x","n":2}\n'.encode()
    assert json_rows(batch, "\n") == expected
    assert [json.loads(line) for line in encoded(batch, "jsonl").splitlines()] == batch.to_pylist()


def test_small_batches_go_row_by_row_large_ones_column_wise() -> None:
    small = pa.record_batch({"v": pa.array(range(COLUMNWISE_MIN_ROWS - 1), pa.float64())})
    large = pa.record_batch({"v": pa.array(range(COLUMNWISE_MIN_ROWS), pa.float64())})
    assert encoded(small).startswith(b'[{"v": 0.0}')  # json.dumps spacing
    assert encoded(large).startswith(b'[{"v":0.0}')  # json_rows
    assert json.loads(encoded(large)) == large.to_pylist()


def test_other_control_characters_and_other_types_fall_back_to_row_by_row() -> None:
    control = pa.record_batch({"s": ["a\x01b"]})
    assert json_rows(control, ",") is None
    assert json.loads(encoded(control)) == [{"s": "a\x01b"}]
    listed = pa.record_batch({"l": pa.array([[1, 2]])})
    assert json_rows(listed, ",") is None
    assert json.loads(encoded(listed)) == [{"l": [1, 2]}]


@pytest.mark.parametrize("columns", [{}, {"v": pa.array([], pa.int64())}])
def test_empty_shapes(columns: dict) -> None:
    batch = pa.record_batch(columns) if columns else pa.RecordBatch.from_pylist([{}, {}])
    assert json.loads(encoded(batch)) == batch.to_pylist()
