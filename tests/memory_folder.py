"""Where tests put data whose time is SQLite's syncs: /dev/shm, where the machine has it.

The catalog's SQLite file syncs on every commit; on a tmpfs those syncs cost nothing, and
what runs is the same. ``None`` (the system's temporary folder) elsewhere.
"""

from __future__ import annotations

import os

MEMORY_FOLDER = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
