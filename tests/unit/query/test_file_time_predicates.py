"""Time predicates over persisted files are exact to the nanosecond, read from Parquet and
from the Parquet cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30], ids=["parquet", "cached"])
@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("time < arrow_cast(210000000001, 'Timestamp(Nanosecond, None)')", [1, 2]),
        ("time <= arrow_cast(210000000000, 'Timestamp(Nanosecond, None)')", [1, 2]),
        ("time >= arrow_cast(209999999999, 'Timestamp(Nanosecond, None)')", [2, 3]),
        ("time > arrow_cast(210000000000, 'Timestamp(Nanosecond, None)')", [3]),
        ("time = arrow_cast(210000000007, 'Timestamp(Nanosecond, None)')", [3]),
    ],
)
def test_boundaries_that_are_not_whole_microseconds(
    tmp_path: Path, predicate: str, expected: list[int], cache_bytes: int
) -> None:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=cache_bytes))
    try:
        # Two rows on whole microseconds (no remainder in their file), one with a remainder.
        app.engine.write_line_protocol(
            "db", b"m v=1i 200000000000\nm v=2i 210000000000", principal=ANONYMOUS
        )
        app.persister.persist()
        app.engine.write_line_protocol("db", b"m v=3i 210000000007", principal=ANONYMOUS)
        app.persister.persist()
        sql = f"SELECT v FROM m WHERE {predicate} ORDER BY v"
        rows = app.query.execute("db", sql).read_all().column("v").to_pylist()
        assert rows == expected
    finally:
        app.close()
