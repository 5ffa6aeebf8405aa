"""The write feed: acknowledged writes by sequence, from memory and from the WAL, with holds."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from flight_iox.engine.feed import WriteFeed
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.wal import TableWrite, WalWrite, WriteAheadLog, encode_write
from flight_iox.wal.holds import TruncationHolds


def _write(database: str, value: int) -> WalWrite:
    batch = pa.record_batch({"v": pa.array([value], pa.int64())})
    return WalWrite(database, [TableWrite("t", batch)])


def _open(path: Path, memory: int = 1 << 20, hold_bytes: int = 1 << 30) -> WriteFeed:
    holds = TruncationHolds(hold_bytes)
    wal = WriteAheadLog(path, fsync=False, segment_bytes=600, holds=holds)
    list(wal.replay())
    return WriteFeed(wal, SequenceWatermark(wal.last_sequence), holds, memory)


def _append(feed: WriteFeed, write: WalWrite) -> int:
    sequence = feed._wal.append(encode_write(write))
    feed.acknowledge(sequence, write)
    return sequence


def _values(feed: WriteFeed, after: int, database: str | None = None) -> list[int]:
    read = feed.read(after, database, limit=10_000)
    return [e.tables[0][1].column("v")[0].as_py() for e in read.entries]


def test_reads_from_memory_then_from_the_wal_after_a_restart(tmp_path: Path) -> None:
    feed = _open(tmp_path)
    for i in range(1, 21):
        _append(feed, _write("a" if i % 2 else "b", i))
    assert feed.acknowledged == 20
    assert _values(feed, 0) == list(range(1, 21))
    assert _values(feed, 15, "a") == [17, 19]
    read = feed.read(15, "a")
    assert read.through == 20 and read.missing == 0
    feed._wal.close()

    again = _open(tmp_path)  # recovery: nothing in memory, everything in the segments
    assert _values(again, 0) == list(range(1, 21))
    assert _values(again, 12, "b") == [14, 16, 18, 20]
    assert _append(again, _write("a", 21)) == 21
    assert _values(again, 19) == [20, 21]  # the WAL's, then memory's


def test_evicted_entries_come_from_the_wal(tmp_path: Path) -> None:
    feed = _open(tmp_path, memory=1)  # keeps nothing but the entry being written
    for i in range(1, 11):
        _append(feed, _write("a", i))
    assert _values(feed, 0) == list(range(1, 11))
    read = feed.read(3, limit=4)
    assert [e.sequence for e in read.entries] == [4, 5, 6, 7] and read.through == 7


def test_deleted_segments_are_counted_missing_and_holds_keep_them(tmp_path: Path) -> None:
    feed = _open(tmp_path)
    wal = feed._wal
    for i in range(1, 31):
        _append(feed, _write("a", i))
    feed.hold("sub", 5)
    wal.delete_segments_through(30)
    assert _values(feed, 5)[:2] == [6, 7]  # held: still there
    assert feed.read(5, limit=10_000).missing == 0
    feed.release("sub")
    wal.delete_segments_through(30)
    restarted = _open(tmp_path)
    read = restarted.read(5, limit=10_000)
    assert read.missing > 0
    assert read.missing + len(read.entries) == 30 - 5
    assert read.through == 30


def test_holds_give_way_past_their_bound() -> None:
    holds = TruncationHolds(max_bytes=250)
    holds.hold("slow", 0)
    segments = [(10, 100), (20, 100), (30, 100), (40, 100)]
    assert holds.allowed(40, segments) == 20  # 400 held, 200 over: the two oldest go
    holds.hold("slow", 35)
    assert holds.allowed(40, segments) == 35
    holds.release("slow")
    assert holds.allowed(40, segments) == 40


def test_wait_wakes_on_acknowledgement(tmp_path: Path) -> None:
    feed = _open(tmp_path)
    seen: list[int] = []
    waiter = threading.Thread(target=lambda: seen.append(feed.wait(0, timeout=30)))
    waiter.start()
    _append(feed, _write("a", 1))
    waiter.join(timeout=30)
    assert seen == [1]
    assert feed.wait(1, timeout=0.01) == 1  # nothing new: returns at the timeout


def test_wake_ends_a_stopped_readers_wait_and_no_other(tmp_path: Path) -> None:
    """A reader that stops sets its event and wakes the feed: its wait ends with nothing new,
    while another reader's (a replica's long poll, say) goes on until its write comes."""
    feed = _open(tmp_path)
    stop = threading.Event()
    seen: list[int] = []
    others: list[int] = []
    waiter = threading.Thread(target=lambda: seen.append(feed.wait(0, 300, stopped=stop)))
    other = threading.Thread(target=lambda: others.append(feed.wait(0, timeout=300)))
    waiter.start()
    other.start()
    stop.set()
    for _ in range(600):  # up to 30 s, a tenth of the wait's own timeout
        feed.wake()  # (again, in case the waiter had not started waiting yet)
        waiter.join(timeout=0.05)
        if seen:
            break
    assert seen == [0]  # it returned with nothing acknowledged: woken, not timed out
    feed.wake()
    other.join(timeout=0.2)
    assert others == []  # not stopped: still waiting after the wakes
    _append(feed, _write("a", 1))
    other.join(timeout=30)
    assert others == [1]
