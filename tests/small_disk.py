"""A real, small filesystem for disk-full tests: a tmpfs mounted for the test.

The OS itself answers ENOSPC, as a full disk does; nothing is mocked. Mounting needs
root (or CAP_SYS_ADMIN); where it is refused the test is skipped, saying why.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(path: Path, size: str = "16m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``path`` (created if needed) for the ``with`` block."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a disk-full test: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(path: Path) -> Path:
    """Write ``path`` until the filesystem is full; delete it to free the space again."""
    chunk = b"\0" * 65_536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return path
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)
