"""Keep freed heap memory in the server process instead of handing it back after every request.

glibc's malloc returns memory to the system eagerly: allocations over its mmap threshold
get pages of their own, and the heap's top is trimmed once its free end passes the trim
threshold (both a few hundred KiB to a few MiB, adjusted as it goes). A write carries a
body of megabytes, and its parse makes temporaries as large, so every request faulted its
memory in again: measured on 5,000-line TSBS bodies (1.7 MB), ~780 page faults and ~2.5 ms
of system CPU per body on the event loop thread that receives it (0 with this module),
and ~430 on the thread that parses it (~180). With one client, all on the critical path.

``keep_freed_memory`` raises both thresholds once, at the server's start: up to 64 MiB freed
at the top of a heap stays mapped, and allocations up to 4 MiB come from the heap. Larger
ones keep pages of their own, so a growing buffer of many megabytes (a query's aggregate)
is still moved by remapping, not copied: with 32 MiB, ``array_agg`` over a billion rows
grew too slowly to reach its memory limit before its timeout (tests/e2e/test_limits.py).
The cost is up to that much resident memory kept after a burst.

Anyone who sets glibc's own ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` keeps
their choice; other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds; False when not glibc or the user chose."""
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and done
    if not done:
        log.warning("glibc refused the malloc thresholds; requests fault their memory in")
    return done
