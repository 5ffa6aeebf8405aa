"""Push replication to one replica (``--replicate-to``): a thread that ships the WAL feed.

The shipper reads acknowledged writes from the WAL feed (recent ones from memory, older
ones from the segments) after the sequence the replica last confirmed, and sends them
as one frame per round trip: every write acknowledged meanwhile rides together, so a
sync write's wait is shared like a group commit's fsync. The replica answers the
sequence it holds durably; that is the only thing the shipper believes, so a lost
answer, a restart of either side or a replica restored from an older backup just moves
the next frame's start. The first call is an empty frame that asks where the replica is.

The shipper holds the WAL from the replica's confirmed sequence on, so the persister
keeps the segments it still needs (bounded by ``--wal-hold-max-bytes``; past it the
replica is reported as needing a resync, since its own storage never saw those rows).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import pyarrow.flight as flight

from flight_iox.cluster.remote import Peers
from flight_iox.engine.feed import WriteFeed
from flight_iox.replication.protocol import APPEND_ACTION, encode_frame, payloads

log = logging.getLogger(__name__)
BATCH_ENTRIES = 1024
IDLE_WAIT_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 2.0


class Shipper:
    """Ships the WAL to one replica in the background and tracks what it confirmed."""

    def __init__(
        self,
        url: str,
        mode: str,
        feed: WriteFeed,
        peers: Peers,
        leader: str,
        on_ack: Callable[[], None],
    ) -> None:
        self.url = url
        self.mode = mode
        self._feed = feed
        self._peers = peers
        self.leader = leader  # how the replica names this node (set before ``start``)
        self._on_ack = on_ack
        self.acked: int | None = None  # unknown until the replica answers
        self.shipped = 0
        self.state = "connecting"
        self.error = ""
        self._holder = f"replica:{url}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Held from the start (before the persister runs), from 0 until the replica says.
        self._feed.hold(self._holder, 0)

    def start(self) -> None:
        """Start shipping."""
        self._thread = threading.Thread(target=self._run, name=f"ship {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop shipping (the hold stays: a restarted leader ships from it again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._round()
                backoff = 0.05
            except flight.FlightError as error:
                self._failed(error)
            except Exception as error:  # our bug or a damaged WAL: keep trying, loudly
                log.exception("shipping to replica %s failed", self.url)
                self._set_state("error", f"{type(error).__name__}: {error}")
            else:
                continue
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _round(self) -> None:
        """One step: learn the replica's position, wait for writes, or ship a frame."""
        if self.acked is None:
            self._confirmed(self._send([]))
            return
        acked = self.acked
        if self._feed.acknowledged <= acked:
            self._feed.wait(acked, IDLE_WAIT_SECONDS)
            return
        read = self._feed.read(acked, limit=BATCH_ENTRIES)
        if read.missing:
            self._set_state(
                "resync needed",
                f"the leader's WAL no longer has {read.missing} entries after {acked} "
                "(persisted and deleted): restore the replica from a backup",
            )
            self._stop.wait(1.0)
            return
        entries = payloads(read.entries)
        if not entries:
            return
        self.shipped = entries[-1][0]
        self._confirmed(self._send(entries))

    def _send(self, entries: list[tuple[int, bytes]]) -> int:
        frame = encode_frame(entries, {"leader": self.leader})
        (reply,) = self._peers.action(self.url, APPEND_ACTION, frame)
        return int(json.loads(reply)["applied"])

    def _confirmed(self, applied: int) -> None:
        if applied > self._feed.acknowledged:
            self._set_state(
                "diverged",
                f"the replica holds sequence {applied}, past this node's "
                f"{self._feed.acknowledged}: it has writes this node never had",
            )
            self._stop.wait(1.0)
            return
        self.acked = applied
        self._feed.hold(self._holder, applied)
        self._set_state("streaming", "")
        self._on_ack()

    def _failed(self, error: flight.FlightError) -> None:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        unreachable = isinstance(error, (flight.FlightUnavailableError, flight.FlightTimedOutError))
        if unreachable:
            self._peers.forget(self.url)
        self._set_state("unreachable" if unreachable else "refused", message)

    def _set_state(self, state: str, error: str) -> None:
        if state != self.state and state != "streaming":
            log.warning("replica %s: %s: %s", self.url, state, error)
        elif state != self.state:
            log.info("replica %s: streaming from sequence %s", self.url, self.acked)
        self.state, self.error = state, error
