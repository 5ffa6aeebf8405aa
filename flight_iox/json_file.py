"""Small state files written durably: a crash leaves the old content or the new, never half.

``catalog.json`` (``engine/catalog.py``) and the processing engine's trigger positions
(``processing/store.py``) are written this way: a temporary file, fsync, rename over the
old one, fsync of the folder (so the rename itself survives a power loss). A full disk
is an ``InsufficientStorageError`` naming the folder, and the old file stays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flight_iox.errors import storage_full


def write_json_atomically(path: Path, state: object) -> None:
    """Replace ``path`` with ``state`` as JSON, durably."""
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
    except OSError as error:
        tmp.unlink(missing_ok=True)
        full = storage_full(error, str(path.parent), "nothing was changed")
        if full is None:
            raise
        raise full from error
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
