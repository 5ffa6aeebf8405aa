"""Keep the interpreter from pausing queries: the cyclic collector and the GIL's hand-over.

Two pauses of CPython itself showed in the tail of issue 20's soak (``bench/soak.py``),
where one query runs beside two writers, persistence and compaction on 2 cores:

- **Full collections.** What start-up imports and builds (pyarrow, DataFusion, gRPC,
  PyIceberg, the app: about 190,000 tracked objects) lives as long as the server, yet every
  full collection walked all of it again, holding the GIL: 88-109 ms each, measured in a
  process built as ``serve`` builds it (``bench/interpreter_pauses.py``), several times in
  ten minutes. ``gc.freeze()`` once the server is built moves them out of the collector's
  sight; a full collection then walks only what requests made (0.0 ms there). The one full
  collection before the freeze is paid at start instead of during a request.
- **The GIL's hand-over.** A thread that gives the GIL up (every pyarrow, DataFusion or
  socket call does) waits for it again until the running thread drops it, which a thread
  busy in Python (a persist's Iceberg commit, a write's parse) does only every switch
  interval, 5 ms by default. A query takes and gives it back dozens of times, so beside a
  busy thread each of them could wait up to that long. ``SWITCH_INTERVAL_S`` shortens it.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001


def steady_interpreter() -> None:
    """Freeze what start-up built and shorten the GIL's switch interval (call once, after
    the server is built and before it takes requests)."""
    gc.collect()  # what start-up left as garbage is not frozen with the rest
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
