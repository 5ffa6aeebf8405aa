"""Cancellation flags of running DoGets (``flightsql/running.py``), without a server."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

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


def test_a_stream_ends_however_it_ends_even_dropped_unread() -> None:
    import pyarrow as pa

    batch = pa.record_batch({"x": [1]})
    gets, ends = RunningGets(), []
    read = gets.until_done(iter([batch]), "me", b"read", gets.start("me", b"read"), ends.append)
    assert list(read) == [batch] and ends == [None]

    def failing() -> Iterator[pa.RecordBatch]:
        yield batch
        raise ValueError("boom")

    failed = gets.until_done(failing(), "me", b"failed", gets.start("me", b"failed"), ends.append)
    assert next(failed) == batch
    with pytest.raises(ValueError, match="boom"):
        next(failed)
    assert isinstance(ends[-1], ValueError)
    # pyarrow drops a DoGet's stream unread when its client goes after the schema: a
    # generator dropped before its first step runs no ``finally``; this still ends.
    flag = gets.start("me", b"dropped")
    dropped = gets.until_done(iter([batch]), "me", b"dropped", flag, ends.append)
    del dropped
    gc.collect()
    assert isinstance(ends[-1], GeneratorExit) and len(ends) == 3
    assert gets._flags == {} and gets.cancel("me", [b"dropped"]) == 0
