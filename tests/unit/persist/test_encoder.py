"""Big persists are encoded in a child process: the same files, and no persist lost to it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist import encoder as encoder_module
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
def app(tmp_path: Path) -> Iterator[App]:
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
    first, *others = data.column("host").chunks
    assert any(not c.dictionary.equals(first.dictionary) for c in others)  # their own each
    kinds = column_kinds(schema)
    partitioning = app.iceberg.write_target("db", "cpu", schema).partitioning
    here = encode_parts(data, kinds, partitioning)
    there = app.tables.encoder.encode(data, kinds, partitioning)
    assert app.tables.encoder.in_child == 1
    assert len(here) == len(there) == 4  # 2.1 days from 22:13 on the first
    for a, b in zip(here, there, strict=True):
        assert (a.key, a.folder) == (b.key, b.folder)
        assert a.data == b.data.to_pybytes()  # byte for byte
        assert a.rows.equals(b.rows, check_metadata=True)
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
    assert not list(Path("/dev/shm").glob(f"flight-iox-encode-{os.getpid()}-*"))  # cleaned


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
    assert "encoding 5000 rows in the server's thread: the encoder process ended" in caplog.text
    assert encoder.in_child == 0 and encoder._child is None
    count = app.query.execute("db", "SELECT count(*) AS n FROM cpu").read_all()
    assert count.column("n").to_pylist() == [5_000]
    assert encoder.in_thread == 1


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


# A child speaking the protocol that refuses every batch, then one answering out of turn.
REFUSING = """
import json, sys
sys.path[:] = json.loads(sys.argv[1])
from flight_iox.persist.encoder_child import EncodeAnswer, read_message, write_message
while True:
    try:
        request = read_message(sys.stdin.buffer)
    except EOFError:
        break
    write_message(sys.stdout.buffer, EncodeAnswer(request.serial + SHIFT, None, "ValueError: no"))
"""


def speaking(shift: int) -> list[str]:
    return [sys.executable, "-c", REFUSING.replace("SHIFT", str(shift)), json.dumps(sys.path)]


def test_a_refused_batch_is_encoded_in_the_thread_and_failures_pause_the_child(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = app.tables.encoder
    encoder.command = speaking(0)
    with caplog.at_level(logging.WARNING, logger="flight_iox.persist.encoder"):
        for n, table in enumerate(("a", "b", "c", "d")):
            app.engine.write_line_protocol("db", LINES.replace(b"cpu,", f"{table},".encode()),
                                           principal=ANONYMOUS)  # fmt: skip
            report = app.persister.persist()
            assert not report.failures and report.rows == 5_000
            if n == 0:
                child = encoder._child
                assert child is not None and child.poll() is None  # a refusal keeps it
    assert "refused the batch: ValueError: no" in caplog.text
    assert "3 failures in a row: the encoder process is not tried for 300 s" in caplog.text
    assert encoder.in_thread == 4 and encoder.in_child == 0  # the fourth was not tried
    assert caplog.text.count("refused the batch") == 3
    for table in ("a", "b", "c", "d"):
        count = app.query.execute("db", f"SELECT count(*) AS n FROM {table}").read_all()
        assert count.column("n").to_pylist() == [5_000]


def test_an_answer_out_of_turn_ends_the_child(app: App) -> None:
    encoder = app.tables.encoder
    encoder.command = speaking(1)
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    assert app.persister.persist().rows == 5_000
    assert encoder._child is None and encoder.in_thread == 1


def test_scratch_on_disk_is_read_not_mapped_and_removed(
    app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(encoder_module, "_room", lambda folder: 0)  # no room in /dev/shm
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    before = rows_of(app)
    app.persister.persist()
    assert app.tables.encoder.in_child == 1
    assert same(rows_of(app), before)
    assert list((tmp_path / "tmp" / "encode").iterdir()) == []


def test_scratch_of_servers_gone_is_removed_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(encoder_module, "SHARED_MEMORY", shared)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    stale = shared / f"flight-iox-encode-{gone.pid}-x1"
    ours = shared / f"flight-iox-encode-{os.getpid()}-x2"
    on_disk = tmp_path / "data" / "tmp" / "encode" / f"flight-iox-encode-{gone.pid}-x3"
    for folder in (stale, ours, on_disk):
        folder.mkdir(parents=True)
        (folder / "rows.arrows").write_bytes(b"x")
    PartEncoder(min_rows=1, nice=0, data_dir=tmp_path / "data").close()
    assert not stale.exists() and not on_disk.exists() and ours.exists()


def test_after_close_batches_stay_in_the_thread(app: App) -> None:
    app.tables.encoder.close()
    app.engine.write_line_protocol("db", LINES, principal=ANONYMOUS)
    assert app.persister.persist().rows == 5_000
    assert app.tables.encoder._child is None and app.tables.encoder.in_child == 0
