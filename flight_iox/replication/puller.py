"""Pull replication (``--follow URL``): a thread that asks the leader for its WAL.

Each call asks for the entries after the sequence this node holds durably (its own
WAL's last), so resuming after either side restarts needs no state but the WAL itself.
The leader answers at once when it has entries, or after up to ``wait`` seconds of
long-polling when it has none, so a follower sees a write a round trip after its
acknowledgement without busy polling. A frame is appended (one fsync) and applied
before the next call; a leader that is down or paused (``SIGSTOP``) is a timeout the
puller retries with backoff until it answers again.
"""

from __future__ import annotations

import logging
import threading
import time

import pyarrow.flight as flight

from flight_iox.cluster.remote import Peers
from flight_iox.replication.protocol import PULL_ACTION, PullRequest, decode_frame
from flight_iox.replication.replica import EntryApplier, ReplicaRole

log = logging.getLogger(__name__)
LONG_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 2.0


class Puller:
    """Follows one leader's WAL into this node's WAL and buffer."""

    def __init__(
        self, leader: str, node_id: str, applier: EntryApplier, role: ReplicaRole, peers: Peers
    ) -> None:
        self.leader = leader
        self._node_id = node_id
        self._applier = applier
        self._role = role
        self._peers = peers  # its call timeout covers the long poll
        self.state = "connecting"
        self.error = ""
        self.leader_acknowledged: int | None = None
        self.last_contact: float | None = None  # epoch seconds of the last answer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following."""
        self._thread = threading.Thread(target=self._run, name="follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (promotion, shutdown)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set() and self._role.replica:
            try:
                self._pull()
                backoff = 0.05
                continue
            except flight.FlightError as error:
                text = str(error).strip().splitlines()
                self._set_state("unreachable", text[0] if text else type(error).__name__)
                if isinstance(error, (flight.FlightUnavailableError, flight.FlightTimedOutError)):
                    self._peers.forget(self.leader)
            except Exception as error:  # our bug or a bad frame: keep trying, loudly
                log.exception("following %s failed", self.leader)
                self._set_state("error", f"{type(error).__name__}: {error}")
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _pull(self) -> None:
        request = PullRequest(self._node_id, self._applier.applied, wait=LONG_POLL_SECONDS)
        (reply,) = self._peers.action(self.leader, PULL_ACTION, request.encode())
        frame = decode_frame(reply)
        self.last_contact = time.time()
        self.leader_acknowledged = int(frame.header.get("acknowledged", 0))
        resync = frame.header.get("resync")
        if resync:
            self._set_state("resync needed", str(resync))
            self._stop.wait(1.0)
            return
        if frame.entries:
            with self._applier.lock:
                if not self._role.replica:
                    return  # promoted while the call was out: nothing more is applied
                self._applier.apply_locked(frame)
        self._set_state("streaming", "")

    def _set_state(self, state: str, error: str) -> None:
        if state != self.state:
            if state == "streaming":
                log.info("following %s from sequence %d", self.leader, self._applier.applied)
            else:
                log.warning("following %s: %s: %s", self.leader, state, error)
        self.state, self.error = state, error
