"""A query error after the 200 cuts the answer short with one warning; a bug still escapes.

The ASGI messages show what the server sends: without the final ``more_body: False``
message uvicorn closes the connection, so the client sees a cut chunked answer (observed
against a real server: requests raises ``ChunkedEncodingError``) and the log holds one
warning line and uvicorn's "returned without completing response", no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from flight_iox.errors import QueryError
from flight_iox.http.streaming import CutShortOnError

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}


def _send_all(failure: Exception) -> list[dict]:
    """Run a response whose body fails with ``failure`` after one chunk; the messages sent."""

    async def body() -> AsyncIterator[bytes]:
        yield b'{"v": 1}\n'
        raise failure

    async def receive() -> dict:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(CutShortOnError(body(), media_type="application/jsonl")(SCOPE, receive, send))
    return sent


def test_a_query_error_mid_stream_ends_the_answer_unfinished(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        sent = _send_all(QueryError("Cast error: Cannot cast string 'x' to value of Int64 type"))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    assert sent[1] == {"type": "http.response.body", "body": b'{"v": 1}\n', "more_body": True}
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "Cannot cast string 'x'" in record.getMessage()


def test_a_bug_mid_stream_still_escapes() -> None:
    with pytest.raises(RuntimeError, match="planted"):
        _send_all(RuntimeError("planted"))
