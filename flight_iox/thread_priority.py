"""Let a background thread yield the cores to requests: a niceness of its own.

On 2 cores a persist (sorting, encoding, compressing a million rows) and a compaction each
want a whole core for a second or more, while the writes and queries that arrive meanwhile
want theirs: everything stretched, and the queries that met a persist made the tail of
issue 20's soak (``bench/soak.py``). Linux keeps a niceness per thread (``setpriority`` on a
thread id changes that thread alone), so the background thread can run at a lower weight:
it still gets every idle cycle, and a query or write that is ready runs first. Elsewhere
the call would renice the whole process, so it is made on Linux only.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_this_thread(nice: int) -> int:
    """Add ``nice`` to the calling thread's niceness (Linux; a no-op elsewhere or for 0).

    Returns the thread's niceness after the call. A thread that starts others gives them
    its niceness, so call this in a thread that does background work only.
    """
    if nice <= 0 or sys.platform != "linux":
        return 0
    thread = threading.get_native_id()
    now = os.getpriority(os.PRIO_PROCESS, thread)
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + nice))
    except OSError as error:  # a sandbox may forbid it; the work runs at full weight
        log.warning("could not lower the priority of thread %s: %s", thread, error)
    return os.getpriority(os.PRIO_PROCESS, thread)
