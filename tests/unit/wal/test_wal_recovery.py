"""Recovery: torn tails are dropped and truncated, damage anywhere else is an error."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from flight_iox.errors import WalCorruptionError
from flight_iox.wal import WriteAheadLog
from flight_iox.wal.segment import ENTRY_HEADER, FILE_HEADER, file_header, segment_name
from tests.unit.wal.wal_testing import entry_offsets, flip_byte, open_log, payload_of


def _write(directory: Path, count: int, **options: object) -> list[Path]:
    wal = open_log(directory, **options)
    for i in range(1, count + 1):
        wal.append(payload_of(i))
    wal.close()
    return wal.segment_paths()


def _replayed(directory: Path) -> list[int]:
    wal = WriteAheadLog(directory)
    sequences = [e.sequence for e in wal.replay()]
    wal.close()
    return sequences


_HEADER = ENTRY_HEADER.size


@pytest.mark.parametrize(
    "cut",
    [1, _HEADER // 2, _HEADER - 1, _HEADER, _HEADER + 5, -1],
    ids=["header-1", "header-mid", "header-all-but-1", "header-only", "payload-5", "all-but-1"],
)
def test_torn_tail_is_dropped_truncated_and_appends_continue(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    last = _write(tmp_path, 10)[-1]
    full_size = last.stat().st_size
    tail = entry_offsets(last)[-1]
    os.truncate(last, tail + cut if cut > 0 else full_size + cut)

    wal = WriteAheadLog(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flight_iox.wal.log"):
        replayed = list(wal.replay())
    assert [e.sequence for e in replayed] == list(range(1, 10))
    assert [e.payload for e in replayed] == [payload_of(i) for i in range(1, 10)]
    assert last.stat().st_size == tail  # cut back to the last good entry
    assert "torn tail" in caplog.text and str(last) in caplog.text

    assert wal.append(b"after the crash") == 10  # the torn sequence was never acknowledged
    wal.close()
    assert _replayed(tmp_path) == list(range(1, 11))


def test_torn_only_entry_leaves_an_empty_segment_that_is_reused(tmp_path: Path) -> None:
    segments = _write(tmp_path, 30, segment_bytes=400)
    last = segments[-1]
    first_of_last = int(last.stem)
    offsets = entry_offsets(last)
    os.truncate(last, offsets[1] + 3 if len(offsets) > 1 else offsets[0] + 3)
    expected_end = first_of_last + (1 if len(offsets) > 1 else 0)

    wal = WriteAheadLog(tmp_path, segment_bytes=400)
    assert [e.sequence for e in wal.replay()] == list(range(1, expected_end))
    assert wal.append(b"x") == expected_end
    wal.close()
    assert _replayed(tmp_path) == list(range(1, expected_end + 1))


def test_trailing_zero_bytes_are_a_torn_tail(tmp_path: Path) -> None:
    last = _write(tmp_path, 5)[-1]
    size = last.stat().st_size
    with open(last, "ab") as file:
        file.write(bytes(4096))  # what a crash after the file grew but before data landed leaves

    wal = WriteAheadLog(tmp_path)
    assert [e.sequence for e in wal.replay()] == [1, 2, 3, 4, 5]
    assert last.stat().st_size == size
    assert wal.append(b"x") == 6
    wal.close()


def test_complete_last_entry_with_bad_checksum_is_a_torn_tail(tmp_path: Path) -> None:
    last = _write(tmp_path, 5)[-1]
    tail = entry_offsets(last)[-1]
    flip_byte(last, last.stat().st_size - 1)
    assert _replayed(tmp_path) == [1, 2, 3, 4]
    assert last.stat().st_size == tail


@pytest.mark.parametrize(
    "where", [0, 4, 8, ENTRY_HEADER.size + 2], ids=["length", "crc", "seq", "payload"]
)
def test_corrupt_entry_followed_by_good_ones_is_an_error(tmp_path: Path, where: int) -> None:
    last = _write(tmp_path, 10)[-1]
    offset = entry_offsets(last)[3]
    flip_byte(last, offset + where)
    size = last.stat().st_size

    wal = WriteAheadLog(tmp_path)
    with pytest.raises(WalCorruptionError) as caught:
        list(wal.replay())
    assert caught.value.path == str(last)
    assert caught.value.offset == offset
    assert str(last) in str(caught.value) and f"offset {offset}" in str(caught.value)
    assert last.stat().st_size == size  # nothing is truncated on corruption
    with pytest.raises(RuntimeError):
        wal.append(b"x")


def test_zeroed_block_in_the_middle_is_an_error(tmp_path: Path) -> None:
    last = _write(tmp_path, 10)[-1]
    offsets = entry_offsets(last)
    with open(last, "r+b") as file:
        file.seek(offsets[2])
        file.write(bytes(offsets[4] - offsets[2]))
    with pytest.raises(WalCorruptionError) as caught:
        list(WriteAheadLog(tmp_path).replay())
    assert caught.value.offset == offsets[2]


@pytest.mark.parametrize("damage", ["flip-last-entry", "truncate", "zero-tail"])
def test_damage_in_a_segment_that_is_not_the_last_is_an_error(tmp_path: Path, damage: str) -> None:
    segments = _write(tmp_path, 40, segment_bytes=500)
    assert len(segments) >= 3
    victim = segments[1]
    tail = entry_offsets(victim)[-1]
    if damage == "flip-last-entry":
        flip_byte(victim, victim.stat().st_size - 1)
    elif damage == "truncate":
        os.truncate(victim, victim.stat().st_size - 3)
    else:
        with open(victim, "ab") as file:
            file.write(bytes(64))
        tail = victim.stat().st_size - 64
    with pytest.raises(WalCorruptionError) as caught:
        list(WriteAheadLog(tmp_path).replay())
    assert caught.value.path == str(victim)
    assert caught.value.offset == tail


def test_missing_segment_is_an_error(tmp_path: Path) -> None:
    segments = _write(tmp_path, 40, segment_bytes=500)
    segments[1].unlink()
    with pytest.raises(WalCorruptionError, match="expected"):
        list(WriteAheadLog(tmp_path).replay())


def test_torn_segment_header_of_the_last_segment_is_rewritten(tmp_path: Path) -> None:
    _write(tmp_path, 3)
    torn = tmp_path / segment_name(4)
    torn.write_bytes(file_header(4)[:10])  # crashed while creating the next segment
    wal = WriteAheadLog(tmp_path)
    assert [e.sequence for e in wal.replay()] == [1, 2, 3]
    assert torn.stat().st_size == FILE_HEADER.size
    assert wal.append(b"x") == 4
    wal.close()
    assert _replayed(tmp_path) == [1, 2, 3, 4]


def test_foreign_or_wrong_version_header_is_an_error(tmp_path: Path) -> None:
    last = _write(tmp_path, 3)[-1]
    flip_byte(last, 8)  # the version field
    with pytest.raises(WalCorruptionError, match="version") as caught:
        list(WriteAheadLog(tmp_path).replay())
    assert caught.value.offset == 0
    flip_byte(last, 8)
    flip_byte(last, 0)  # the magic
    with pytest.raises(WalCorruptionError, match="not a WAL segment"):
        list(WriteAheadLog(tmp_path).replay())


def test_files_that_are_not_segments_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, 3)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "1.wal").write_bytes(b"junk")
    assert _replayed(tmp_path) == [1, 2, 3]
