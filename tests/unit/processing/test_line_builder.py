"""LineBuilder renders line protocol the server parses back to the same values."""

from __future__ import annotations

import pytest

from flight_iox.ingest import parse_line_protocol
from flight_iox.processing.line_builder import (
    InvalidKeyError,
    InvalidLineError,
    InvalidMeasurementError,
    LineBuilder,
)


def test_every_field_type_round_trips_through_the_parser() -> None:
    line = (
        LineBuilder("weather")
        .tag("location", "us midwest,1=2")
        .int64_field("count", -3)
        .uint64_field("big", 2**64 - 1)
        .float64_field("temp", 82.0)
        .float64_field("ratio", 0.125)
        .string_field("note", 'say "hi" \\ bye')
        .bool_field("ok", True)
        .time_ns(1627680000000000000)
    )
    text = line.build()
    assert text.startswith("weather,location=us\\ midwest\\,1\\=2 count=-3i,")
    assert "temp=82.0" in text and "ok=t" in text
    parsed = parse_line_protocol(text.encode(), default_time_ns=0)
    assert not parsed.errors
    batch = parsed.batches[0]
    assert batch.measurement == "weather"
    assert batch.tags["location"].to_pylist() == ["us midwest,1=2"]
    values = {name: column.to_pylist()[0] for name, column in batch.fields.items()}
    assert values == {
        "count": -3,
        "big": 2**64 - 1,
        "temp": 82.0,
        "ratio": 0.125,
        "note": 'say "hi" \\ bye',
        "ok": True,
    }
    assert batch.time.to_pylist() == [1627680000000000000]


def test_bad_names_and_values_raise_influxdb3s_errors() -> None:
    with pytest.raises(InvalidMeasurementError):
        LineBuilder("has space")
    for key in ("", "a b", "a,b", "a=b"):
        with pytest.raises(InvalidKeyError):
            LineBuilder("m").tag(key, "v")
        with pytest.raises(InvalidKeyError):
            LineBuilder("m").float64_field(key, 1.0)
    with pytest.raises(ValueError, match="negative"):
        LineBuilder("m").uint64_field("u", -1)
    with pytest.raises(ValueError, match="out of range"):
        LineBuilder("m").int64_field("i", 2**63)
    with pytest.raises(InvalidLineError):
        LineBuilder("m").tag("t", "v").build()
