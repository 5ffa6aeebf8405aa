"""At-least-once delivery of acknowledged writes to a ``table:`` trigger across ``kill -9``.

The trigger's position is a WAL sequence kept on disk after each call; the server is
killed while the plugin is still at work, after a persist that would have deleted the
WAL segments of those writes had the trigger not held them. On restart the plugin gets
every row again from its position: none missing (duplicates are allowed, and land on
the same keys).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.processing_env import DB, reopen, start_engine

ROWS = 12


@pytest.mark.slow
def test_table_trigger_gets_every_write_after_a_kill(tmp_path: Path) -> None:
    small_segments = ("--wal-segment-bytes", "1024")  # a few writes per segment
    engine = start_engine(tmp_path, *small_segments)
    reply = engine.trigger("rec", "recorder.py", "table:events", {"sleep": "2"})
    assert reply.status_code == 201, reply.text
    for n in range(ROWS):  # one WAL entry each
        engine.write(f"events,host=h{n % 3} n={n}i {1_000_000 + n}")
    assert engine.call("POST", "/api/v3/persist").status_code == 200
    segments_held = len(list((engine.server.data_dir / "wal").iterdir()))
    assert segments_held > 2  # persisted, yet kept for the trigger
    engine.server.kill()

    engine = reopen(engine, *small_segments)
    try:
        rows = engine.wait_rows("SELECT n FROM recorded ORDER BY n", lambda rows: len(rows) == ROWS)
        assert [r["n"] for r in rows] == list(range(ROWS))
        shown = engine.sql(
            "SELECT wal_position FROM system.processing_engine_triggers WHERE trigger_name = 'rec'"
        )
        assert shown[0]["wal_position"] >= ROWS
        assert engine.sql("SELECT count(*) AS n FROM events", DB) == [{"n": ROWS}]
    finally:
        engine.server.stop()
