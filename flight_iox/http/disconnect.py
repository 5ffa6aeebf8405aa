"""Cancel an HTTP request's queries when its client disconnects.

uvicorn reports a lost connection as an ``http.disconnect`` message on ``receive``; a task
waits for it and sets ``gone``. Queries started through ``ClientWatch.run`` see ``gone`` (see
``query.execution.cancellation``) and stop within a poll interval, whether they are still
computing their first batch or streaming. The watch ends, and anything still running is
cancelled, when the streamed body ends, fails, or is abandoned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive

from flight_iox.query.execution import cancellation

T = TypeVar("T")


class ClientWatch:
    """Knows whether a request's client is gone, for the queries the request runs."""

    def __init__(self, request: Request) -> None:
        self.gone = threading.Event()
        self._task = asyncio.ensure_future(self._watch(request.receive))

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """``func(*args)`` in the thread pool; queries it starts stop if the client leaves."""
        with cancellation(self.gone.is_set):  # the thread pool copies this context
            return await run_in_threadpool(func, *args)

    async def stream(self, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        """The body of a streaming response; closes the watch however it ends."""
        try:
            while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Stop watching; a query still running for this request is cancelled."""
        self.gone.set()
        self._task.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.gone.set()
