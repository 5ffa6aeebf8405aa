"""A request thread's event loop is closed when the thread ends (``query/execution.py``).

Each loop holds an epoll descriptor and a socket pair; left to the garbage collector, a
finished thread's loop kept them open until it ran, and then warned it was never closed.
"""

from __future__ import annotations

import asyncio
import gc
import threading

from flight_iox.query.execution import _thread_loop


def _loop_of_a_finished_thread() -> asyncio.AbstractEventLoop:
    loops: list[asyncio.AbstractEventLoop | None] = []
    thread = threading.Thread(target=lambda: loops.append(_thread_loop()))
    thread.start()
    thread.join()
    gc.collect()
    (loop,) = loops
    assert loop is not None
    return loop


def test_a_finished_threads_loop_is_closed() -> None:
    assert _loop_of_a_finished_thread().is_closed()


def test_a_thread_keeps_one_loop_while_it_runs() -> None:
    found: list[bool] = []

    def twice() -> None:
        first = _thread_loop()
        found.append(first is not None and first is _thread_loop() and not first.is_closed())

    thread = threading.Thread(target=twice)
    thread.start()
    thread.join()
    assert found == [True]
