"""A server's resident memory with its children's: the persist encoder is a child process."""

from __future__ import annotations

import contextlib
from pathlib import Path


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` and of its children (the persist encoder:
    ``flight_iox/persist/encoder.py``), 0 for a process that is gone."""
    total = 0
    for process in (pid, *children(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def children(pid: int) -> list[int]:
    """Children of any of ``pid``'s threads (the encoder is started by the persister's)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found
