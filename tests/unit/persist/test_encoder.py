"""Big persists are encoded in a child process: the same files, and no persist lost to it."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist.encoder import PartEncoder
from flight_iox.persist.parquet_files import encode_parts
from iox_catalog.schema import column_kinds

T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
# 2.1 days, so four day partitions; a tag whose values differ per chunk (the buffer's dictionaries),
# an integer field (its pages are re-encoded), a float, a string and a NULL.
LINES = "\n".join(
    f'cpu,host=h{i % 7},dc=d{i % 3} n={i}i,u={i / 3},s="x{i % 5}"'
    f"{',b=true' if i % 2 else ''} {T0 + i * 37 * SECOND}"
    for i in range(5_000)
).encode()


@pytest.fixture
def app(tmp_path: Path) -> App:
    settings = Settings(
        data_dir=tmp_path, wal_fsync=False, persist_max_age_seconds=3600,
        persist_encoder_min_rows=1,
    )  # fmt: skip
    app = build_app(settings)
    yield app
    app.close()


def rows_of(app: App) -> list[dict]:
    return (
        app.query.execute("db", "SELECT * FROM cpu ORDER BY host, dc, time").read_all().to_pylist()
    )


def same(a: list[dict], b: list[dict]) -> bool:
    """Equal rows, NaN equal to NaN."""
    return repr(a) == repr(b)


def test_child_encodes_the_same_files_as_the_thread(app: App) -> None:
    lines = LINES.split(b"\n")
    for chunk in (lines[:2_000], lines[2_000:]):  # two writes: chunks with their own dictionaries
        app.engine.write_line_protocol("db", b"\n".join(chunk), principal=ANONYMOUS)
    schema = app.catalog.database("db").tables["cpu"].arrow_schema()
    data = app.buffers.snapshot("db", "cpu", schema).buffered
    kinds = column_kinds(schema)
    partitioning = app.iceberg.write_target("db", "cpu", schema).partitioning
    here = encode_parts(data, kinds, partitioning)
    there = app.tables.encoder.encode(data, kinds, partitioning)
    assert app.tables.encoder.in_child == 1
    assert len(here) == len(there) == 4  # 2.1 days from 22:13 on the first
    for a, b in zip(here, there, strict=True):
        assert (a.key, a.folder) == (b.key, b.folder)
        assert a.data == b.data  # byte for byte
        assert a.rows.equals(b.rows) and a.rows.schema.metadata == b.rows.schema.metadata
        assert a.nanoseconds.equals(b.nanoseconds)
        assert a.series is not None and b.series is not None
        assert a.series.series.equals(b.series.series)
        assert (a.series.first == b.series.first).all() and (a.series.last == b.series.last).all()


def test_persist_and_compaction_go_through_the_child(app: App) -> None:
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    before = rows_of(app)
    app.persister.persist()
    assert app.tables.encoder.in_child == 1
    assert same(rows_of(app), before)
    for _ in range(3):  # more files in the same partitions, then compacted
        app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
        app.persister.persist()
    app.persister.compact(min_files=2)
    assert app.tables.encoder.in_child >= 5
    assert same(rows_of(app), before)  # rewrites of the same points
    assert not list(Path("/dev/shm").glob("flight-iox-encode-*"))  # scratch cleaned


def test_a_killed_child_is_replaced(app: App) -> None:
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    app.persister.persist()
    child = app.tables.encoder._child
    assert child is not None
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    app.engine.write_line_protocol("db", LINES.replace(b"cpu,", b"mem,"), principal=ANONYMOUS)
    report = app.persister.persist()
    assert not report.failures and report.rows == 5_000
    assert app.tables.encoder._child is not None and app.tables.encoder._child.pid != child.pid
    assert app.tables.encoder.in_child == 2


def test_a_child_dying_mid_batch_costs_no_persist(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = app.tables.encoder
    encoder.command = [sys.executable, "-c", "import sys; sys.stdin.buffer.read(8)"]
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    with caplog.at_level(logging.WARNING, logger="flight_iox.persist.encoder"):
        report = app.persister.persist()
    assert not report.failures and report.rows == 5_000
    assert "encoding 5000 rows in the server's thread: the encoder process failed" in caplog.text
    assert encoder.in_child == 0 and encoder._child is None
    count = app.query.execute("db", "SELECT count(*) AS n FROM cpu").read_all()
    assert count.column("n").to_pylist() == [5_000]
    encoder.command = [sys.executable, "-c", "import sys; sys.exit(3)"]  # one that refuses
    app.engine.write_line_protocol("db", LINES.replace(b"cpu,", b"mem,"), principal=ANONYMOUS)
    assert app.persister.persist().rows == 5_000


def test_small_batches_stay_in_the_thread(tmp_path: Path) -> None:
    encoder = PartEncoder(min_rows=1_000, nice=10, data_dir=tmp_path)
    app = build_app(Settings(data_dir=tmp_path / "d", wal_fsync=False))
    try:
        app.engine.write_line_protocol("db", b"cpu f=1 1\ncpu f=2 2", principal=ANONYMOUS)
        schema = app.catalog.database("db").tables["cpu"].arrow_schema()
        rows = app.buffers.snapshot("db", "cpu", schema).buffered
        partitioning = app.iceberg.write_target("db", "cpu", schema).partitioning
        assert len(encoder.encode(rows, column_kinds(schema), partitioning)) == 1
        assert encoder.in_child == 0 and encoder._child is None
    finally:
        app.close()
        encoder.close()
