"""The receiving side of replication: this node's role, and applying shipped entries.

A replica (``--follow URL`` pulls, ``--replica`` is pushed to) refuses client writes,
naming its leader, and takes entries only from replication. It appends each entry to its
own WAL under the leader's sequence (one fsync per frame, before any of it is visible),
then applies it to its schema catalog and buffer exactly as recovery replays a WAL, so it
answers reads and persists into its own catalog like any server.

``POST /api/v3/configure/node/promote`` turns it into a writer: it stops taking entries
and accepts writes, continuing the same sequence. The promotion is written to
``replication.json`` in the data folder before it is answered, so a restart with the old
``--follow``/``--replica`` flags stays promoted instead of following the old leader again
(the old leader coming back cannot push into it either: see docs/cluster.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.engine.feed import WriteFeed
from flight_iox.errors import WrongNodeError
from flight_iox.json_file import write_json_atomically
from flight_iox.replication.protocol import Frame
from flight_iox.wal import WalWrite, WriteAheadLog, decode_write

log = logging.getLogger(__name__)
STATE_FILE = "replication.json"


class ReplicaRole:
    """Whether this node is a replica now, of which leader, and its promotion."""

    def __init__(self, data_dir: Path, node_id: str, follow: str | None, replica: bool) -> None:
        self._path = data_dir / STATE_FILE
        self._node_id = node_id
        state = _read_state(self._path)
        self.promoted = bool(state.get("promoted"))
        self.leader: str | None = follow or state.get("leader")
        self.replica = bool(follow or replica) and not self.promoted
        self.follow = follow if self.replica else None
        if self.promoted and (follow or replica):
            log.warning(
                "this node was promoted (%s); --follow/--replica are ignored: it accepts writes",
                self._path,
            )

    def check_writable(self) -> None:
        """``WrongNodeError`` (421 / FAILED_PRECONDITION) naming the leader, on a replica."""
        if self.replica:
            leader = self.leader or "the node replicating to it"
            raise WrongNodeError(
                f"node {self._node_id!r} is a read-only replica of {leader}; write to the "
                f"leader {leader}, or promote this node (POST /api/v3/configure/node/promote)"
            )

    def learn_leader(self, leader: str) -> None:
        """A pushing leader named itself (shown in errors and ``system.replication``)."""
        self.leader = leader

    def promote(self, sequence: int) -> dict[str, Any]:
        """Become a writer; durable (``replication.json``) before this returns."""
        if not self.replica:
            return {"node_id": self._node_id, "promoted": False, "reason": "already a writer"}
        state = {
            "promoted": True, "leader": self.leader, "sequence": sequence,
            "promoted_at": time.time(),
        }  # fmt: skip
        write_json_atomically(self._path, state)
        self.replica, self.promoted, self.follow = False, True, None
        log.warning("promoted: this node accepts writes from sequence %d on", sequence + 1)
        return {
            "node_id": self._node_id, "promoted": True, "was_replica_of": self.leader,
            "last_sequence": sequence,
        }  # fmt: skip


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return state if isinstance(state, dict) else {}


class EntryApplier:
    """Appends shipped entries to this node's WAL and applies them, in sequence order."""

    def __init__(
        self, wal: WriteAheadLog, catalog: SchemaCatalog, buffers: BufferSet, feed: WriteFeed
    ) -> None:
        self._wal = wal
        self._catalog = catalog
        self._buffers = buffers
        self._feed = feed
        self.lock = threading.Lock()  # one frame at a time; promotion takes it too

    @property
    def applied(self) -> int:
        """Every entry up to this sequence is durable here (and applied)."""
        return self._wal.last_sequence

    def apply(self, frame: Frame) -> int:
        """Append and apply the entries after ``applied``; returns ``applied`` afterwards.

        Entries already here are skipped (a leader resending after a lost answer); a frame
        starting past ``applied + 1`` is not applied at all: the answer tells the sender
        where to resume.
        """
        with self.lock:
            return self.apply_locked(frame)

    def apply_locked(self, frame: Frame) -> int:
        """``apply`` for a caller holding ``lock``."""
        last = self._wal.last_sequence
        todo = [(s, p) for s, p in frame.entries if s > last]
        if not todo or todo[0][0] != last + 1:
            return last
        writes = [decode_write(payload) for _, payload in todo]  # refuse a bad frame whole
        for index, (sequence, payload) in enumerate(todo):
            appended = self._wal.append(payload, sync=index == len(todo) - 1)
            if appended != sequence:  # only this applier appends to a replica's WAL
                raise RuntimeError(f"replica WAL gave sequence {appended}, expected {sequence}")
        for (sequence, _), write in zip(todo, writes, strict=True):
            self._apply(sequence, write)
        return self._wal.last_sequence

    def _apply(self, sequence: int, write: WalWrite) -> None:
        try:
            for table in write.tables:
                self._catalog.apply_replayed_schema(write.database, table.table, table.batch.schema)
                self._buffers.append(write.database, table.table, sequence, table.batch)
        finally:
            self._feed.acknowledge(sequence, write)
