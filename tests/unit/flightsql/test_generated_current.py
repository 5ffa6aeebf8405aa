"""The committed generated code is exactly what the .proto compiles to."""

from __future__ import annotations

from pathlib import Path

from flight_iox.flightsql import generate


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    written = generate.generate(tmp_path)
    for fresh in written:
        committed = generate.GENERATED_DIR / fresh.name
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"{committed} is stale: run python -m flight_iox.flightsql.generate"
        )
