"""gRPC handler threads keep one Python thread state from call to call, and ended ones go."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow.flight as flight
import pytest

from flight_iox.flightsql import thread_states
from flight_iox.flightsql.thread_states import forget_ended, keep_thread_state, kept_threads

pytestmark = pytest.mark.skipif(
    not thread_states._SUPPORTED, reason="thread states are kept on CPython 3.11 on Linux only"
)

BURST = 6


class _Keeping(flight.ServerMiddlewareFactory):
    def start_call(self, info: flight.CallInfo, headers: dict) -> None:
        keep_thread_state()
        return None


class _Counting(flight.FlightServerBase):
    """Answers each action with how many calls its thread-local saw before, and where."""

    def __init__(self) -> None:
        super().__init__("grpc://127.0.0.1:0", middleware={"keep": _Keeping()})
        self.local = threading.local()
        self.barrier = threading.Barrier(BURST)
        self.threads: set[int] = set()

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        seen = getattr(self.local, "calls", 0)
        self.local.calls = seen + 1
        self.threads.add(threading.get_native_id())
        if action.type == "together":
            self.barrier.wait(20)
        return [str(seen).encode()]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Counting]:
    """A server whose threads are all kept: not at the bound of the other servers' threads."""
    monkeypatch.setattr(thread_states, "MAX_KEPT", 10_000)
    forget_ended()
    with _Counting() as running:
        yield running


def _call(server: _Counting, kind: str = "one") -> int:
    with flight.connect(f"grpc://127.0.0.1:{server.port}") as client:
        (result,) = client.do_action(flight.Action(kind, b""))
        return int(result.body.to_pybytes())


def _burst(server: _Counting) -> None:
    with ThreadPoolExecutor(BURST) as pool:
        list(pool.map(lambda _: _call(server, "together"), range(BURST)))


def test_a_grpc_thread_keeps_its_thread_locals_between_calls(server: _Counting) -> None:
    seen = [_call(server) for _ in range(6)]
    assert max(seen) >= 1  # without a kept state every call saw an empty thread-local
    assert server.threads <= kept_threads()


def _alive() -> set[int]:
    return {int(task.name) for task in thread_states._TASKS.iterdir()}


def test_the_states_of_ended_grpc_threads_are_deleted(
    server: _Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    _burst(server)  # gRPC starts a thread per waiting call, then ends those it does not need
    first = set(server.threads)
    assert len(first) >= BURST
    assert first <= kept_threads()  # each kept, until its thread ends
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not first - _alive():
        time.sleep(0.2)
    ended = first - _alive()
    assert ended, "gRPC ended none of its burst's threads"
    monkeypatch.setattr(thread_states, "REAP_SECONDS", 0.0)
    _burst(server)  # the first call of each new gRPC thread reaps, on that thread
    assert not ended & kept_threads()
    assert [_call(server) for _ in range(3)]  # the server goes on, keeping new threads
    assert server.threads & _alive() <= kept_threads()


def test_no_more_than_the_bound_are_kept(
    server: _Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(thread_states, "MAX_KEPT", len(kept_threads()) + 1)
    _burst(server)
    assert len(kept_threads()) <= thread_states.MAX_KEPT


def test_a_thread_python_started_is_not_kept() -> None:
    before = kept_threads()
    worker = threading.Thread(target=keep_thread_state)
    worker.start()
    worker.join()
    assert kept_threads() <= before
    forget_ended()  # nothing of that thread to delete twice


def test_a_forked_child_forgets_the_states_its_parent_kept(server: _Counting) -> None:
    _call(server)
    assert kept_threads()
    child = os.fork()
    if child == 0:  # CPython deleted the other threads' states here: none may be reaped
        os._exit(0 if not kept_threads() else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
