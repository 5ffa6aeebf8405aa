"""The receiving side: entries appended under the leader's sequences, applied, promotion."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.config import Limits
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.engine.feed import WriteFeed
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import WrongNodeError
from flight_iox.ports import AcknowledgedWrite
from flight_iox.replication.protocol import Frame, payloads
from flight_iox.replication.replica import EntryApplier, ReplicaRole
from flight_iox.wal import WriteAheadLog
from flight_iox.wal.holds import TruncationHolds


def _applier(path: Path) -> tuple[EntryApplier, WriteFeed, BufferSet]:
    holds = TruncationHolds(1 << 30)
    wal = WriteAheadLog(path / "wal", fsync=False, holds=holds)
    list(wal.replay())
    feed = WriteFeed(wal, SequenceWatermark(wal.last_sequence), holds)
    buffers = BufferSet()
    catalog = SchemaCatalog(path / "catalog.json", Limits())
    return EntryApplier(wal, catalog, buffers, feed), feed, buffers


def _frame(first: int, count: int) -> Frame:
    writes = []
    for sequence in range(first, first + count):
        batch = pa.record_batch({"v": pa.array([float(sequence)])})
        writes.append(AcknowledgedWrite(sequence, "db", (("cpu", batch),)))
    return Frame(tuple(payloads(writes)))


def test_entries_are_appended_under_the_leaders_sequences_and_applied(tmp_path: Path) -> None:
    applier, feed, buffers = _applier(tmp_path)
    assert applier.apply(_frame(1, 3)) == 3
    assert applier.apply(_frame(2, 4)) == 5  # 2 and 3 are here already: skipped, not doubled
    assert feed.acknowledged == 5
    assert [e.sequence for e in feed.read(0).entries] == [1, 2, 3, 4, 5]
    assert buffers.buffered_rows() == 5


def test_a_frame_past_a_gap_is_not_applied(tmp_path: Path) -> None:
    applier, feed, _ = _applier(tmp_path)
    applier.apply(_frame(1, 2))
    assert applier.apply(_frame(5, 2)) == 2  # the answer says where to resume
    assert feed.acknowledged == 2


def test_a_restarted_replica_resumes_from_its_wal(tmp_path: Path) -> None:
    applier, _, _ = _applier(tmp_path)
    applier.apply(_frame(1, 3))
    again, _, _ = _applier(tmp_path)
    assert again.applied == 3
    assert again.apply(_frame(4, 1)) == 4


def test_a_replica_refuses_writes_naming_its_leader_until_promoted(tmp_path: Path) -> None:
    role = ReplicaRole(tmp_path, "r1", "grpc://leader:1", replica=False)
    with pytest.raises(WrongNodeError, match="read-only replica of grpc://leader:1"):
        role.check_writable()
    answer = role.promote(17)
    assert answer["promoted"] and answer["last_sequence"] == 17
    role.check_writable()
    assert role.promote(17)["promoted"] is False
    # Restarted with the same flags, it stays promoted: it never follows the old leader again.
    again = ReplicaRole(tmp_path, "r1", "grpc://leader:1", replica=False)
    assert again.promoted and not again.replica and again.follow is None
    again.check_writable()


def test_a_node_without_replica_flags_is_a_writer(tmp_path: Path) -> None:
    role = ReplicaRole(tmp_path, "n", None, replica=False)
    role.check_writable()
    assert not role.replica and not role.promoted
