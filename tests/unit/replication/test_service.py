"""The leader's side: the quorum check, and sync writes that fail with a named timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.config import Limits
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.engine.feed import WriteFeed
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import ReplicationTimeoutError, status_of
from flight_iox.replication.replica import EntryApplier, ReplicaRole
from flight_iox.replication.service import ReplicationService, replica_urls
from flight_iox.wal import WriteAheadLog
from flight_iox.wal.holds import TruncationHolds


def _service(path: Path, urls: list[str], mode: str, quorum: int | None) -> ReplicationService:
    holds = TruncationHolds(1 << 30)
    wal = WriteAheadLog(path / "wal", fsync=False, holds=holds)
    list(wal.replay())
    feed = WriteFeed(wal, SequenceWatermark(wal.last_sequence), holds)
    catalog = SchemaCatalog(path / "catalog.json", Limits())
    return ReplicationService(
        node_id="leader", urls=urls, mode=mode, quorum=quorum, timeout=0.2, feed=feed,
        applier=EntryApplier(wal, catalog, BufferSet(), feed),
        role=ReplicaRole(path, "leader", None, replica=False), token=None,
    )  # fmt: skip


def test_replica_urls_are_flight_urls_listed_once() -> None:
    assert replica_urls(" grpc://a:1, grpc+tls://b:2 ,") == ["grpc://a:1", "grpc+tls://b:2"]
    assert replica_urls(None) == []
    with pytest.raises(ValueError, match="not a Flight URL"):
        replica_urls("http://a:1")
    with pytest.raises(ValueError, match="listed twice"):
        replica_urls("grpc://a:1,grpc://a:1")


def test_the_quorum_is_within_the_replicas_listed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected 1 to 1"):
        _service(tmp_path, ["grpc://127.0.0.1:9"], "sync", 2)


def test_async_and_no_replicas_never_wait(tmp_path: Path) -> None:
    _service(tmp_path, ["grpc://127.0.0.1:9"], "async", None).wait_replicated(5)
    _service(tmp_path / "b", [], "sync", None).wait_replicated(5)


def test_a_sync_write_no_replica_confirms_fails_naming_the_replica(tmp_path: Path) -> None:
    service = _service(tmp_path, ["grpc://127.0.0.1:9"], "sync", None)  # never started
    with pytest.raises(ReplicationTimeoutError) as caught:
        service.wait_replicated(1)
    assert "grpc://127.0.0.1:9" in caught.value.message and "WAL sequence 1" in caught.value.message
    assert status_of(caught.value) == (504, "DEADLINE_EXCEEDED")
    (row,) = service.rows()
    assert (row.replica, row.mode, row.state, row.last_acked_sequence) == (
        "grpc://127.0.0.1:9", "sync", "connecting", None,
    )  # fmt: skip
