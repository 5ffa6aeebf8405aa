"""A streamed answer that a query error after the 200 cuts short, visibly and quietly.

The first chunk of a query's answer is computed before the status goes out, so most
errors are a proper 4xx. One that comes later (a cast failing in a later batch, the
query's time bound) can no longer change the status: the only honest signal left is to
end the connection without the final chunk, so the client sees a cut answer and never
a complete-looking short one. Letting the error escape does that too, but then Starlette
and uvicorn log it with a traceback, as if the user's query were our bug; so here a
flight-iox error is one warning line, and anything else (a bug) still escapes, traceback
and all.
"""

from __future__ import annotations

import logging

from starlette.responses import StreamingResponse
from starlette.types import Send

from flight_iox.errors import FlightIoxError

log = logging.getLogger(__name__)


class CutShortOnError(StreamingResponse):
    """A ``StreamingResponse`` that ends unfinished, and logs one line, on a flight-iox error."""

    async def stream_response(self, send: Send) -> None:
        """Stream the body; on a flight-iox error, stop before the final (empty) chunk."""
        try:
            await super().stream_response(send)
        except FlightIoxError as error:
            log.warning(
                "query failed while its answer streamed; the answer is cut short: %s", error.message
            )
