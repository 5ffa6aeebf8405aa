"""Where each subscription's delivery stands: the WAL sequence delivered through, on disk.

One small JSON file in the data folder (``subscriptions/positions.json``), written
atomically (a temporary file, fsync, rename, fsync of the folder). A position moves only
after its destination answered 2xx, and is written at most every ``interval`` seconds
(and on stop): a ``kill -9`` makes the subscription send again what it delivered since
the last write of the file, never skip anything. That is at-least-once delivery.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path


class PositionStore:
    """Positions by cursor key, loaded once and saved when they move."""

    def __init__(self, directory: Path, interval: float = 0.2) -> None:
        self._path = directory / "positions.json"
        directory.mkdir(parents=True, exist_ok=True)
        self._interval = interval
        self._lock = threading.Lock()
        self._positions: dict[str, int] = {}
        self._dirty = False
        self._saved_at = 0.0
        if self._path.exists():
            self._positions = {k: int(v) for k, v in json.loads(self._path.read_text()).items()}

    def get(self, key: str) -> int | None:
        """The position of ``key``, if one was ever kept."""
        with self._lock:
            return self._positions.get(key)

    def set(self, key: str, sequence: int, *, now: bool = False) -> None:
        """Move ``key`` to ``sequence``; written within ``interval`` (at once with ``now``)."""
        with self._lock:
            self._positions[key] = sequence
            self._dirty = True
        if now:
            self.flush()

    def forget(self, keys: list[str]) -> None:
        """Drop positions of cursors that no longer exist (written at once)."""
        with self._lock:
            for key in keys:
                self._positions.pop(key, None)
            self._dirty = True
        self.flush()

    def keys(self) -> list[str]:
        """Every key with a position."""
        with self._lock:
            return list(self._positions)

    def flush_if_due(self) -> None:
        """Write the file if a position moved and ``interval`` passed since the last write."""
        if self._dirty and time.monotonic() - self._saved_at >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Write the file now, if anything moved."""
        with self._lock:
            if not self._dirty:
                return
            text = json.dumps(self._positions, sort_keys=True)
            self._dirty = False
            self._saved_at = time.monotonic()
            tmp = self._path.with_suffix(".tmp")
            try:
                with open(tmp, "w") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, self._path)
                fd = os.open(self._path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                self._dirty = True  # try again at the next flush; delivery goes on
                raise
