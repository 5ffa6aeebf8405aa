"""Waiting for a server to catch up: poll until an answer is the expected one.

Servers that follow a catalog, a lease or a heartbeat converge within a bound, not at
once; a test polls for the answer it expects and fails with the last one it got.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEADLINE_SECONDS = 60.0


def eventually(read: Callable[[], object], expected: object) -> object:
    """Poll ``read()`` until it equals ``expected`` (the deadline fails with the last answer)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    answer = read()
    while answer != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = read()
    assert answer == expected
    return answer
