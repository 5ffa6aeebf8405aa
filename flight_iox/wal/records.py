"""What reading the log gives back: replayed entries, and the log's state at one instant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WalEntry:
    """One replayed entry: its sequence number and the payload as appended."""

    sequence: int
    payload: bytes


@dataclass(frozen=True)
class WalSnapshot:
    """The log at one instant: its last sequence and each segment's size holding it.

    ``segments`` pairs each segment path with the number of bytes that hold exactly the
    entries up to ``last_sequence`` (records are written whole under the lock, so the
    size taken under it never ends inside a record).
    """

    last_sequence: int
    segments: tuple[tuple[Path, int], ...]
