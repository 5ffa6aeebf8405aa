"""bench/process_memory.py counts the children a server's other threads start (its encoder)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from bench.process_memory import children, rss_bytes


def test_children_of_any_thread_are_counted() -> None:
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(
        target=lambda: started.append(
            subprocess.Popen(
                [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
            )
        )
    )
    thread.start()
    thread.join()
    (child,) = started
    try:
        assert child.pid in children(os.getpid())  # started by a thread, not the main one
        assert rss_bytes(os.getpid()) > rss_bytes(child.pid) > 0
    finally:
        child.communicate(b"")
