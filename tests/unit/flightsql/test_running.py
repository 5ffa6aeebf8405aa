"""Cancellation flags of running DoGets (``flightsql/running.py``), without a server."""

from __future__ import annotations

import gc

from flight_iox.flightsql import running
from flight_iox.flightsql.running import RunningGets


def test_a_cancel_reaches_the_callers_streams_only() -> None:
    gets = RunningGets()
    mine, again, theirs = gets.start("me", b"t"), gets.start("me", b"t"), gets.start("you", b"t")
    assert gets.cancel("me", [b"t", b"other"]) == 2
    assert mine.is_set() and again.is_set() and not theirs.is_set()


def test_finished_streams_leave_and_dropped_ones_are_swept() -> None:
    gets = RunningGets()
    flag = gets.start("me", b"t")
    gets.finish("me", b"t", flag)
    assert gets._flags == {} and gets.cancel("me", [b"t"]) == 0
    for n in range(running.SWEEP_AT):  # streams dropped before they ran: never finished
        gets.start("me", b"%d" % n)
    gc.collect()
    kept = gets.start("me", b"live")
    assert list(gets._flags) == [("me", b"live")]
    assert gets.cancel("me", [b"live"]) == 1 and kept.is_set()
