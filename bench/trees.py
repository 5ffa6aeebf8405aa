"""Servers of another git revision, for benchmarks that print a ratio against a baseline.

A revision is checked out with ``git worktree add`` in a temporary folder, and its server is
started with that tree first on ``PYTHONPATH`` (``python -m flight_iox`` also puts the
working folder first on ``sys.path``, so the tree is the working folder while it starts).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flight_iox.launcher import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[1]


def baseline_tree(revision: str) -> tempfile.TemporaryDirectory:
    """A temporary ``git worktree`` of ``revision`` (``remove_tree`` when done)."""
    folder = tempfile.TemporaryDirectory(prefix="bench-baseline-")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", folder.name, revision],
        check=True,
        capture_output=True,
    )
    return folder


def remove_tree(tree: tempfile.TemporaryDirectory) -> None:
    """Remove a ``baseline_tree`` and its worktree record."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree.name])
    tree.cleanup()


@contextmanager
def code_of(tree: Path) -> Iterator[None]:
    """Servers started inside run the code in ``tree``."""
    saved, cwd = os.environ.get("PYTHONPATH"), os.getcwd()
    os.environ["PYTHONPATH"] = f"{tree}:{tree}/catalog:{tree}/clients"
    os.chdir(tree)
    try:
        yield
    finally:
        os.chdir(cwd)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def start_in(tree: Path, data_dir: Path, *flags: str, timeout: float = 60) -> RunningServer:
    """``flight-iox serve`` of the code in ``tree``."""
    with code_of(tree):
        return start_server(data_dir, *flags, timeout=timeout)
