"""A statement GetFlightInfo starts ahead goes to the DoGet of its ticket by its caller only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.errors import QueryError
from flight_iox.flightsql import prefetch
from flight_iox.flightsql.prefetch import Prefetcher
from flight_iox.query.execution import cancellation, current_cancellation

SCHEMA = pa.schema([pa.field("x", pa.int64())])
OTHER = Principal("reader", admin=False)


def statement(
    rows: int, ended: threading.Event | None = None
) -> Callable[[], pa.RecordBatchReader]:
    """A stream of ``rows`` one-row batches; ``ended`` is set when it is closed or read out."""

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for i in range(rows):
                yield pa.record_batch([pa.array([i], pa.int64())], schema=SCHEMA)
        finally:
            if ended is not None:
                ended.set()

    return lambda: pa.RecordBatchReader.from_batches(SCHEMA, batches())


def test_the_ticket_of_its_caller_gets_every_row() -> None:
    ahead = Prefetcher()
    ahead.start(ANONYMOUS, b"ticket", statement(10))
    reader = ahead.claim(ANONYMOUS, b"ticket")
    assert reader is not None
    assert reader.read_all().column("x").to_pylist() == list(range(10))
    assert ahead.claim(ANONYMOUS, b"ticket") is None  # claimed once: a second DoGet runs it


def test_another_caller_or_ticket_gets_nothing() -> None:
    ahead = Prefetcher()
    ahead.start(ANONYMOUS, b"ticket", statement(1))
    assert ahead.claim(OTHER, b"ticket") is None
    assert ahead.claim(ANONYMOUS, b"other ticket") is None
    assert ahead.claim(ANONYMOUS, b"ticket") is not None


@pytest.mark.parametrize("way", ["start", "run_here"])
def test_a_failed_statement_is_left_to_its_doget(way: str) -> None:
    """On a worker (``start``) or in the GetFlightInfo itself (``run_here``): the DoGet
    runs the statement again and reports its error."""

    def failing() -> pa.RecordBatchReader:
        raise QueryError("no such table")

    ahead = Prefetcher()
    getattr(ahead, way)(ANONYMOUS, b"ticket", failing)
    assert ahead.claim(ANONYMOUS, b"ticket") is None


def test_an_unclaimed_statement_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "CLAIM_SECONDS", 0.05)
    monkeypatch.setattr(prefetch, "AHEAD_BATCHES", 1)
    ended = threading.Event()
    ahead = Prefetcher()
    ahead.start(ANONYMOUS, b"ticket", statement(100, ended))
    assert ended.wait(10)  # its stream closed, which ends its query and frees its slot
    assert ahead.claim(ANONYMOUS, b"ticket") is None


def test_no_more_ahead_than_workers() -> None:
    ahead = Prefetcher(workers=1)
    ahead.start(ANONYMOUS, b"first", statement(1))
    ahead.start(ANONYMOUS, b"second", statement(1))
    assert ahead.claim(ANONYMOUS, b"second") is None
    assert ahead.claim(ANONYMOUS, b"first") is not None


def test_the_claiming_doget_cancels_it() -> None:
    watched: list[Callable[[], bool]] = []

    def run() -> pa.RecordBatchReader:
        watched.append(current_cancellation())  # what the query checks between batches
        return statement(1)()

    ahead = Prefetcher()
    ahead.start(ANONYMOUS, b"ticket", run)
    with cancellation(lambda: True):  # the DoGet's client has gone
        assert ahead.claim(ANONYMOUS, b"ticket") is not None
    assert watched[0]()


def test_run_here_keeps_a_whole_result_for_its_caller_only() -> None:
    ahead = Prefetcher()
    ahead.run_here(ANONYMOUS, b"ticket", statement(3))
    assert ahead.claim(OTHER, b"ticket") is None  # another principal's DoGet runs it itself
    assert ahead.claim(ANONYMOUS, b"other ticket") is None
    reader = ahead.claim(ANONYMOUS, b"ticket")
    assert reader is not None
    assert reader.read_all().column("x").to_pylist() == [0, 1, 2]
    assert ahead.claim(ANONYMOUS, b"ticket") is None  # claimed once


def test_run_here_keeps_no_result_that_holds_its_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "AHEAD_BATCHES", 1)
    ended = threading.Event()
    ahead = Prefetcher()
    ahead.run_here(ANONYMOUS, b"ticket", statement(5, ended))
    assert ended.is_set()  # not read whole: closed at once, its query slot given back
    assert ahead.claim(ANONYMOUS, b"ticket") is None


def test_run_here_results_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = Prefetcher()
    for i in range(prefetch.HERE_PENDING + 1):
        ahead.run_here(ANONYMOUS, b"t%d" % i, statement(1))
    assert ahead.claim(ANONYMOUS, b"t%d" % prefetch.HERE_PENDING) is None  # past the bound
    monkeypatch.setattr(prefetch, "CLAIM_SECONDS", -1.0)  # every kept result is now stale
    ahead.run_here(ANONYMOUS, b"new", statement(1))
    assert ahead.claim(ANONYMOUS, b"t0") is None  # dropped by the next run_here
    assert ahead.claim(ANONYMOUS, b"new") is not None
