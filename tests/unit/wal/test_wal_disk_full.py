"""A full disk under the WAL: a clear InsufficientStorageError, nothing acknowledged lost,
and appends work again once space frees (on a real tmpfs; see ``tests/small_disk.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.errors import InsufficientStorageError, status_of
from flight_iox.wal import WriteAheadLog
from tests.small_disk import fill_disk, small_tmpfs


def _open(directory: Path, segment_bytes: int) -> WriteAheadLog:
    wal = WriteAheadLog(directory, segment_bytes=segment_bytes)
    list(wal.replay())
    return wal


@pytest.mark.parametrize("segment_bytes", [64 * 1024 * 1024, 4096], ids=["append", "rotation"])
def test_a_full_disk_refuses_appends_clearly_and_recovers(
    tmp_path: Path, segment_bytes: int
) -> None:
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        wal = _open(disk / "wal", segment_bytes)
        acknowledged = [wal.append(b"before %d" % i + b"x" * 1000) for i in range(8)]
        filler = fill_disk(disk / "filler")
        with pytest.raises(InsufficientStorageError) as refused:
            for i in range(100):  # the page cache may take a little more; then it is full
                acknowledged.append(wal.append(b"full %d" % i + b"x" * 1000))
        error = refused.value
        assert status_of(error) == (507, "RESOURCE_EXHAUSTED")
        assert str(disk / "wal") in error.message and "No space left" in error.message
        with pytest.raises(InsufficientStorageError):  # still full: still refused, no crash
            wal.append(b"y" * 1000)
        filler.unlink()
        after = wal.append(b"after")
        assert after == acknowledged[-1] + 1  # no sequence was spent on a refused record
        wal.close()
        replayed = WriteAheadLog(disk / "wal", segment_bytes=segment_bytes)
        entries = list(replayed.replay())
        assert [e.sequence for e in entries] == [*acknowledged, after]
        assert entries[-1].payload == b"after"
        replayed.close()
