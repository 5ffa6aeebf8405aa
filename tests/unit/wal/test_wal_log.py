"""Appending, rotating, restarting, replaying and deleting WAL segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.wal import WalEntry, WriteAheadLog
from flight_iox.wal.segment import FILE_HEADER, segment_name
from tests.unit.wal.wal_testing import open_log, payload_of


def test_round_trip_across_rotation_and_restart(tmp_path: Path) -> None:
    wal = open_log(tmp_path, segment_bytes=1024)
    sequences = [wal.append(payload_of(i)) for i in range(1, 101)]
    assert sequences == list(range(1, 101))
    assert wal.last_sequence == 100
    wal.close()
    segments = wal.segment_paths()
    assert len(segments) > 5
    assert [p.name for p in segments] == sorted(p.name for p in segments)
    assert all(p.stat().st_size <= 1024 for p in segments)

    wal = WriteAheadLog(tmp_path, segment_bytes=1024)
    replayed = list(wal.replay())
    assert replayed == [WalEntry(i, payload_of(i)) for i in range(1, 101)]
    assert wal.last_sequence == 100
    assert wal.append(payload_of(101)) == 101  # sequences continue after a restart
    assert wal.segment_paths()[-1].name == segment_name(101)  # in a new segment
    wal.close()

    wal = open_log(tmp_path)
    assert [e.sequence for e in wal.replay()] == list(range(1, 102))
    wal.close()


def test_empty_directory_replays_nothing_and_starts_at_one(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal")
    assert list(wal.replay()) == []
    assert wal.last_sequence == 0
    assert wal.append(b"first") == 1
    assert [p.name for p in wal.segment_paths()] == [segment_name(1)]
    wal.close()


def test_restart_without_appends_reuses_the_empty_segment(tmp_path: Path) -> None:
    open_log(tmp_path).close()
    open_log(tmp_path).close()
    wal = open_log(tmp_path)
    assert [p.name for p in wal.segment_paths()] == [segment_name(1)]
    assert wal.append(b"x") == 1
    wal.close()


def test_append_before_replay_is_refused(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    with pytest.raises(RuntimeError, match="replay"):
        wal.append(b"x")
    list(wal.replay())
    wal.append(b"one")
    wal.append(b"two")
    wal.close()
    wal = WriteAheadLog(tmp_path)
    replay = wal.replay()
    next(iter(replay), None)  # started but not exhausted: still refused
    with pytest.raises(RuntimeError, match="replay"):
        wal.append(b"x")


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    wal = open_log(tmp_path)
    wal.close()
    wal.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        wal.append(b"x")


def test_replay_after_sequence_skips_earlier_entries(tmp_path: Path) -> None:
    wal = open_log(tmp_path, segment_bytes=512)
    for i in range(1, 41):
        wal.append(payload_of(i))
    # A replay while open reads what is there, without recovery.
    assert [e.sequence for e in wal.replay(after_sequence=35)] == [36, 37, 38, 39, 40]
    wal.close()

    wal = WriteAheadLog(tmp_path, segment_bytes=512)
    replayed = list(wal.replay(after_sequence=17))
    assert [e.sequence for e in replayed] == list(range(18, 41))
    assert replayed[0].payload == payload_of(18)
    assert wal.append(b"next") == 41
    wal.close()


def test_after_sequence_beyond_the_log_moves_sequences_forward(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    assert list(wal.replay(after_sequence=500)) == []
    assert wal.last_sequence == 500
    assert wal.append(b"x") == 501
    wal.close()


def test_delete_segments_through(tmp_path: Path) -> None:
    wal = open_log(tmp_path, segment_bytes=300)
    for i in range(1, 31):
        wal.append(payload_of(i))
    segments = wal.segment_paths()
    firsts = [int(p.stem) for p in segments]
    assert len(firsts) >= 4

    # Nothing is wholly persisted before the second segment's first sequence.
    assert wal.delete_segments_through(firsts[1] - 2) == []
    deleted = wal.delete_segments_through(firsts[2] - 1)
    assert deleted == segments[:2]
    assert not any(p.exists() for p in deleted)
    assert wal.segment_paths() == segments[2:]

    # The active segment survives even when everything in it is persisted.
    wal.delete_segments_through(10**9)
    assert wal.segment_paths() == segments[-1:]
    assert wal.append(b"after") == 31
    wal.close()

    wal = WriteAheadLog(tmp_path, segment_bytes=300)
    assert [e.sequence for e in wal.replay()] == list(range(firsts[-1], 32))
    assert wal.append(b"x") == 32
    wal.close()


def test_entry_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    wal = open_log(tmp_path, segment_bytes=256)
    big = bytes(range(256)) * 8
    assert [wal.append(b"small"), wal.append(big), wal.append(b"small")] == [1, 2, 3]
    wal.close()
    assert len(wal.segment_paths()) == 3
    wal = WriteAheadLog(tmp_path)
    assert [e.payload for e in wal.replay()] == [b"small", big, b"small"]


def test_segment_file_starts_with_its_header(tmp_path: Path) -> None:
    wal = open_log(tmp_path)
    wal.append(b"payload")
    wal.close()
    data = wal.segment_paths()[0].read_bytes()
    magic, version, _, first = FILE_HEADER.unpack_from(data)
    assert (magic, version, first) == (b"FIOXWAL\x00", 1, 1)
    assert data.endswith(b"payload")


def test_fsync_false_never_syncs(tmp_path: Path) -> None:
    wal = open_log(tmp_path, fsync=False, segment_bytes=200)
    for i in range(20):
        wal.append(payload_of(i))
    wal.close()
    assert wal.sync_count == 0
