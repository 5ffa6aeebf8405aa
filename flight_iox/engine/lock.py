"""An exclusive lock on the data folder, so two servers never share one WAL."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from flight_iox.errors import DataDirLockedError


class DataDirLock:
    """Holds ``flock`` on ``<data_dir>/LOCK`` until released or the process dies."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "LOCK"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip()
            os.close(self._fd)
            raise DataDirLockedError(
                f"data folder {data_dir} is in use by another running flight-iox server"
                + (f" (pid {holder})" if holder else "")
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Let another server take the folder."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
