"""Replication on one node: the write path's gate, the Flight actions, the status table.

Built once by the composition root (``app.py``) from the settings:

- on a leader (``--replicate-to``), one ``Shipper`` per replica. With ``--replication
  sync`` the write path calls ``wait_replicated`` after the local fsync, and the write
  is acknowledged only when ``--replication-quorum`` replicas (default: all) confirm its
  sequence, or fails with ``ReplicationTimeoutError`` (504) naming the ones that did
  not within ``--replication-timeout``. With ``async`` it returns at once.
- on a replica (``--follow``, ``--replica``), ``check_writable`` refuses client writes
  naming the leader, ``iox.replication.append`` takes pushed frames, and a ``Puller``
  follows the leader. ``promote`` ends that.
- on any node, ``iox.replication.pull`` serves followers from the WAL feed.

Both actions need an admin token (the nodes' ``--cluster-token``): they carry every
database's writes, and appending moves the replica's WAL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.cluster.remote import Peers
from flight_iox.engine.feed import WriteFeed
from flight_iox.errors import BadRequestError, ReplicationTimeoutError, WrongNodeError
from flight_iox.replication.protocol import (
    APPEND_ACTION,
    PULL_ACTION,
    ProtocolError,
    PullRequest,
    decode_frame,
    encode_frame,
    payloads,
)
from flight_iox.replication.puller import LONG_POLL_SECONDS, Puller
from flight_iox.replication.replica import EntryApplier, ReplicaRole
from flight_iox.replication.shipper import Shipper
from flight_iox.replication.status import ReplicationRow, replication_table

DESCRIPTIONS = {
    APPEND_ACTION: "WAL entries a leader ships to this replica (admin).",
    PULL_ACTION: "This node's WAL entries after a sequence, for a follower (admin).",
}
# A follower not heard from for this long is shown as silent (its hold stays).
FOLLOWER_SILENT_SECONDS = 5.0


def replica_urls(value: str | None) -> list[str]:
    """The ``--replicate-to`` list; ``ValueError`` naming a URL that is not Flight's."""
    urls = [u.strip() for u in (value or "").split(",") if u.strip()]
    for url in urls:
        if not url.startswith(("grpc://", "grpc+tcp://", "grpc+tls://")):
            raise ValueError(f"--replicate-to: {url!r} is not a Flight URL (grpc://HOST:PORT)")
    if len(set(urls)) != len(urls):
        raise ValueError("--replicate-to: a replica is listed twice")
    return urls


class ReplicationService:
    """Replication for one node (see the module docstring)."""

    def __init__(
        self,
        *,
        node_id: str,
        urls: list[str],
        mode: str,
        quorum: int | None,
        timeout: float,
        feed: WriteFeed,
        applier: EntryApplier,
        role: ReplicaRole,
        token: str | None,
    ) -> None:
        if quorum is not None and urls and not 1 <= quorum <= len(urls):
            raise ValueError(
                f"--replication-quorum {quorum}: expected 1 to {len(urls)} (the replicas listed)"
            )
        self._node_id = node_id
        self._mode = mode
        self._quorum = quorum or len(urls)
        self._timeout = timeout
        self._feed = feed
        self._applier = applier
        self.role = role
        self._cond = threading.Condition()
        self._push_peers = Peers(token, timeout)
        self._shippers = [
            Shipper(url, mode, feed, self._push_peers, node_id, self._acked) for url in urls
        ]
        self._pull_peers = Peers(token, timeout + LONG_POLL_SECONDS)
        self._puller = (
            Puller(role.follow, node_id, applier, role, self._pull_peers) if role.follow else None
        )
        self._followers: dict[str, tuple[int, int, float]] = {}  # id: after, sent, when

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, http_addr: str | None = None) -> None:
        """Start shipping and following; replicas name this node with ``http_addr``, where
        its writers go, in the errors refusing theirs."""
        for shipper in self._shippers:
            if http_addr:
                shipper.leader = f"{self._node_id} ({http_addr})"
            shipper.start()
        if self._puller is not None:
            self._puller.start()

    def stop(self) -> None:
        """Stop every thread and close the clients."""
        for shipper in self._shippers:
            shipper.stop()
        if self._puller is not None:
            self._puller.stop()
        self._push_peers.close()
        self._pull_peers.close()

    # --- the write path ---------------------------------------------------------------------

    def check_writable(self) -> None:
        """``WrongNodeError`` naming the leader on a replica."""
        self.role.check_writable()

    def wait_replicated(self, sequence: int) -> None:
        """With sync: return once the quorum holds ``sequence`` (``ReplicationTimeoutError``)."""
        if self._mode != "sync" or not self._shippers:
            return
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while True:
                confirmed = [s for s in self._shippers if (s.acked or 0) >= sequence]
                if len(confirmed) >= self._quorum:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        late = [s for s in self._shippers if (s.acked or 0) < sequence]
        named = "; ".join(f"{s.url} ({s.state}{': ' + s.error if s.error else ''})" for s in late)
        raise ReplicationTimeoutError(
            f"write stored on node {self._node_id!r} (WAL sequence {sequence}) but only "
            f"{len(confirmed)} of the {self._quorum} replicas needed confirmed it within "
            f"{self._timeout:g} s (--replication-timeout); not confirmed by: {named}. "
            "Retrying the write is safe"
        )

    def _acked(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- Flight actions ----------------------------------------------------------------------

    def handlers(self) -> dict[str, Callable[[Principal, bytes], Iterable[bytes]]]:
        """The replication actions by name (``(principal, body) -> results``)."""
        return {APPEND_ACTION: self.append, PULL_ACTION: self.pull}

    def append(self, principal: Principal, body: bytes) -> Iterable[bytes]:
        """A leader's frame: append and apply it here; ``{"applied": sequence}``."""
        Authorizer.require_admin(principal)
        try:
            frame = decode_frame(body)
        except ProtocolError as error:
            raise BadRequestError(str(error)) from None
        with self._applier.lock:
            if not self.role.replica or self.role.follow:
                why = (
                    f"follows {self.role.follow}" if self.role.follow
                    else "was promoted" if self.role.promoted
                    else "was not started with --replica"
                )  # fmt: skip
                raise WrongNodeError(
                    f"node {self._node_id!r} takes no shipped WAL entries: it {why}"
                )
            leader = frame.header.get("leader")
            if isinstance(leader, str):
                self.role.learn_leader(leader)
            applied = self._applier.apply_locked(frame)
        return [json.dumps({"applied": applied}).encode()]

    def pull(self, principal: Principal, body: bytes) -> Iterable[bytes]:
        """A follower's request: the entries after its sequence (long-polled)."""
        Authorizer.require_admin(principal)
        try:
            request = PullRequest.decode(body)
        except ProtocolError as error:
            raise BadRequestError(str(error)) from None
        self._feed.hold(f"follower:{request.follower}", request.after)
        acknowledged = self._feed.acknowledged
        header: dict[str, Any] = {"leader": self._node_id}
        entries: list[tuple[int, bytes]] = []
        if request.after > acknowledged:
            header["resync"] = (
                f"the follower holds sequence {request.after}, past the leader's "
                f"{acknowledged}: it has writes the leader never had"
            )
        else:
            if request.after == acknowledged and request.wait:
                self._feed.wait(request.after, request.wait)
            read = self._feed.read(request.after, limit=request.limit)
            if read.missing:
                header["resync"] = (
                    f"the leader's WAL no longer has {read.missing} entries after "
                    f"{request.after} (persisted and deleted): restore the follower from a backup"
                )
            else:
                entries = payloads(read.entries)
        header["acknowledged"] = self._feed.acknowledged
        sent = entries[-1][0] if entries else request.after
        with self._cond:
            self._followers[request.follower] = (request.after, sent, time.time())
        return [encode_frame(entries, header)]

    # --- promotion and status -------------------------------------------------------------------

    def promote(self) -> dict[str, Any]:
        """Stop following and accept writes (``POST /api/v3/configure/node/promote``)."""
        with self._applier.lock:
            answer = self.role.promote(self._applier.applied)
        if self._puller is not None:
            self._puller.stop()
        return answer

    def rows(self) -> list[ReplicationRow]:
        """``system.replication``'s rows now."""
        acknowledged = self._feed.acknowledged
        rows = [self._shipper_row(s, acknowledged) for s in self._shippers]
        now = time.time()
        with self._cond:
            followers = sorted(self._followers.items())
        for follower, (after, sent, when) in followers:
            silent = now - when > FOLLOWER_SILENT_SECONDS
            rows.append(
                ReplicationRow(
                    follower,
                    "pull",
                    self._node_id,
                    sent,
                    after,
                    acknowledged - after,
                    self._feed.held_bytes_after(after),
                    self._lag_seconds(after, acknowledged),
                    "silent" if silent else "streaming",
                    None,
                )
            )
        if self.role.replica or self.role.promoted:
            rows.append(self._own_row())
        return rows

    def table(self) -> pa.Table:
        """``system.replication`` as an Arrow table."""
        return replication_table(self.rows())

    def _shipper_row(self, shipper: Shipper, acknowledged: int) -> ReplicationRow:
        acked = shipper.acked
        behind = None if acked is None else acknowledged - acked
        return ReplicationRow(
            shipper.url, shipper.mode, self._node_id, shipper.shipped, acked, behind,
            None if acked is None else self._feed.held_bytes_after(acked),
            None if acked is None else self._lag_seconds(acked, acknowledged),
            shipper.state, shipper.error or None,
        )  # fmt: skip

    def _lag_seconds(self, acked: int, acknowledged: int) -> float:
        if acked >= acknowledged:
            return 0.0
        since = self._feed.acknowledged_at(acked + 1)
        return 0.0 if since is None else max(0.0, time.time() - since)

    def _own_row(self) -> ReplicationRow:
        applied = self._applier.applied
        puller = self._puller
        if self.role.promoted:
            mode, state, error, behind = "promoted", "writer", None, None
        elif puller is not None:
            mode, state, error = "follow", puller.state, puller.error or None
            known = puller.leader_acknowledged
            behind = None if known is None else max(0, known - applied)
        else:
            mode, state, error, behind = "replica", "replica", None, None
        return ReplicationRow(
            self._node_id, mode, self.role.leader, None, applied, behind, None, None, state, error
        )
