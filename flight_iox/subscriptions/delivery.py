"""One delivery cursor: follows the write feed and POSTs each write to its destination(s).

A subscription in ALL mode has one cursor per destination, each with its own position,
so a dead destination holds back only itself. In ANY mode one cursor serves the
subscription: each body goes to the next destination in turn (round robin), and when
one fails to the next (failover); only when all fail does it wait and retry.

A cursor posts the writes in WAL order, several entries per request (up to
``MAX_BODY_BYTES``), and moves its position only after a 2xx answer. Every failure
(refused connection, timeout, non-2xx status) is retried with exponential backoff and
jitter, from 0.1 s up to ``MAX_BACKOFF_SECONDS``, for as long as it takes: the lag shows in
``system.subscriptions``. While it is behind, its position holds the WAL from being
deleted (``ports.WalFeed.hold``, bounded by ``--wal-hold-max-bytes``); entries deleted
anyway are counted as ``lost_entries`` and the cursor goes on after them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

import requests

from flight_iox.ports import AcknowledgedWrite, WalFeed
from flight_iox.subscriptions.definitions import Mode, Subscription, masked, write_url
from flight_iox.subscriptions.encode import encode_tables
from flight_iox.subscriptions.positions import PositionStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_BACKOFF_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 0.1
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
ENTRIES_PER_READ = 1024


@dataclass
class CursorStats:
    """What ``system.subscriptions`` shows of one cursor."""

    delivered_writes: int = 0
    delivered_bytes: int = 0
    failures: int = 0
    lost_entries: int = 0
    last_error: str | None = None
    last_error_time: float | None = None
    last_delivery_time: float | None = None
    retrying: bool = False


class Cursor:
    """Delivers one subscription's writes to one destination (ALL) or to any of several (ANY)."""

    def __init__(
        self,
        subscription: Subscription,
        destinations: tuple[str, ...],
        feed: WalFeed,
        positions: PositionStore,
    ) -> None:
        self.subscription = subscription
        self.destinations = destinations
        self.key = cursor_key(subscription, destinations)
        self._feed = feed
        self._positions = positions
        self.stats = CursorStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._next = 0  # ANY: the destination the next body goes to first
        start = positions.get(self.key)
        if start is None:  # a new cursor: the writes acknowledged from now on
            start = feed.acknowledged
            positions.set(self.key, start, now=True)
        self.position = start
        feed.hold(self.key, start)

    @property
    def shown_destination(self) -> str:
        """The destination(s) as ``system.subscriptions`` shows them (passwords masked)."""
        return ", ".join(masked(d) for d in self.destinations)

    def start(self) -> None:
        """Deliver on a background thread until ``stop``."""
        name = f"subscription-{self.subscription.database}-{self.subscription.name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = False) -> None:
        """Stop delivering (``release``: the subscription is gone, drop its WAL hold)."""
        self._stop.set()
        self._feed.wake()  # the delivery thread sees the stop now, not after its wait
        if self._thread is not None:
            self._thread.join(timeout=READ_TIMEOUT_SECONDS + 5)
        self._session.close()
        if release:
            self._feed.release(self.key)

    # --- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._feed.wait(self.position, timeout=0.5, stopped=self._stop) <= self.position:
                    continue
                self._deliver_next()
            except Exception as error:  # a bug, or the WAL unreadable: say so, go on later
                log.exception("subscription %s: delivery failed", self.key)
                self._failed(f"{type(error).__name__}: {error}")
                self._stop.wait(MAX_BACKOFF_SECONDS)

    def _deliver_next(self) -> None:
        read = self._feed.read(self.position, self.subscription.database, ENTRIES_PER_READ)
        if read.missing:
            self.stats.lost_entries += read.missing
            self._failed(
                f"{read.missing} WAL entries were deleted before delivery "
                "(the hold passed --wal-hold-max-bytes); their rows are in the table"
            )
        entries = read.entries
        while True:  # every entry of the read, in bodies of at most MAX_BODY_BYTES
            body, through, count = _body(entries, read.through)
            if body and not self._post(body):
                return  # stopped while retrying: the position stays
            if count:
                self.stats.delivered_writes += count
                self.stats.delivered_bytes += len(body)
                self.stats.last_delivery_time = time.time()
            self.position = through
            self._positions.set(self.key, through)
            self._feed.hold(self.key, through)
            entries = entries[count:]
            if not entries:
                return

    def _post(self, body: bytes) -> bool:
        """POST until a destination takes it; False only when stopped first."""
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stop.is_set():
            for _ in range(len(self.destinations)):
                index = self._next
                self._next = (self._next + 1) % len(self.destinations)
                destination = self.destinations[index]
                problem = self._send(destination, body)
                if problem is None:
                    self.stats.retrying = False
                    return True
                self._failed(f"{masked(destination)}: {problem}")
            self.stats.retrying = True
            self._stop.wait(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        return False

    def _send(self, destination: str, body: bytes) -> str | None:
        """One POST; None on a 2xx answer, else what went wrong."""
        url, credentials = write_url(destination)
        params = {"db": self.subscription.database, "rp": self.subscription.retention_policy,
                  "precision": "ns"}  # fmt: skip
        try:
            response = self._session.post(
                url,
                params=params,
                data=body,
                auth=credentials,
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except requests.RequestException as error:
            return f"{type(error).__name__}: {error}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _failed(self, message: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = message
        self.stats.last_error_time = time.time()
        log.warning("subscription %s: %s", self.key, message)


def cursor_key(subscription: Subscription, destinations: tuple[str, ...]) -> str:
    """The position's name: ALL cursors by destination, the ANY cursor by subscription."""
    target = destinations[0] if subscription.mode is Mode.ALL else "*"
    return f"subscription:{subscription.database}/{subscription.name}/{target}"


def _body(entries: tuple[AcknowledgedWrite, ...], through: int) -> tuple[bytes, int, int]:
    """The line protocol of the first entries (up to ``MAX_BODY_BYTES``), the sequence it
    covers through, and how many entries it holds."""
    parts: list[bytes] = []
    size = 0
    for index, entry in enumerate(entries):
        text = encode_tables(list(entry.tables))
        if parts and size + len(text) > MAX_BODY_BYTES:
            # Stop before this entry: everything up to the one before it is covered.
            return b"".join(parts), entries[index].sequence - 1, index
        parts.append(text)
        size += len(text)
    return b"".join(parts), through, len(entries)
