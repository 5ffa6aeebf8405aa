"""``WriteAheadLog.snapshot``: the bytes it names hold exactly the entries up to its sequence."""

from __future__ import annotations

from pathlib import Path

from flight_iox.wal import WriteAheadLog


def test_snapshot_bytes_end_at_its_sequence(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", fsync=False, segment_bytes=200)
    list(wal.replay())
    for i in range(10):
        wal.append(f"entry {i}".encode() * 3)
    snap = wal.snapshot()
    for i in range(10, 15):  # appends after the snapshot are not in its bytes
        wal.append(f"later {i}".encode())
    wal.close()
    assert snap.last_sequence == 10 and len(snap.segments) > 1
    copy = tmp_path / "copy"
    copy.mkdir()
    for path, size in snap.segments:
        (copy / path.name).write_bytes(path.read_bytes()[:size])
    reopened = WriteAheadLog(copy, fsync=False)
    entries = list(reopened.replay())
    assert [e.sequence for e in entries] == list(range(1, 11))
    assert entries[-1].payload == b"entry 9" * 3
    reopened.close()
