"""HTTP connections that cannot be held open for free: a deadline for every request's headers.

uvicorn closes a keep-alive connection that stays idle ``timeout_keep_alive`` seconds after a
response, but it arms no timer before the first request, and any byte received resets the
idle timer: about 20k connections that never sent a request (or sent a header byte now and
then) exhausted the server's file descriptors. This protocol gives each request's headers a
deadline, counted from when the connection opens or the previous response ends, that bytes
trickling in do not extend. Once the headers are in, the request runs as long as it needs
(queries have their own timeout).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose next request headers are late."""

    header_timeout: float = 10.0  # set by ``with_header_timeout``

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the headers are in: a request is being served

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """On the server's shutdown, an idle connection whose response is sent is dropped now.

        uvicorn closes it, and over TLS a close waits for the client's close_notify, which an
        idle keep-alive client (a pooled connection) sends only when it closes its end: every
        shutdown then waited out the graceful timeout. A response still in the buffer, or a
        request in progress, is left to uvicorn's graceful close as before.
        """
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.transport.get_write_buffer_size() == 0:
            self._disarm()
            self.transport.abort()
            return
        super().shutdown()

    def _arm(self) -> None:
        self._disarm()
        if self.header_timeout > 0:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


def with_header_timeout(seconds: float) -> type[DeadlineH11Protocol]:
    """The protocol class for uvicorn (``http=``): idle connections close after ``seconds``."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"header_timeout": seconds})
