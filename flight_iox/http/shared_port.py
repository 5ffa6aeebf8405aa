"""gRPC on the HTTP port: each connection goes to uvicorn or to the Flight server.

InfluxDB 3 answers HTTP and Flight (gRPC) on one port, and its clients (influxdb3-python,
``InfluxDBClient3(host="http://host:8181")``) are configured with that one address.
``pyarrow.flight``'s server is its own C++ gRPC server with its own listener, so the HTTP
port cannot hand it a socket. Instead this uvicorn protocol class looks at how each
connection starts, before any protocol is chosen:

- over TLS, by the protocol negotiated with ALPN: gRPC clients offer only ``h2``; HTTP
  clients offer ``http/1.1`` (the server prefers it when both are offered, so an HTTP/2
  capable browser or curl still gets HTTP/1.1 from uvicorn);
- in clear, by the first 24 bytes: HTTP/2 with prior knowledge (what gRPC sends) opens
  with the client preface ``PRI * HTTP/2.0``, which no HTTP/1.x request can start with.

An HTTP/1.x connection becomes uvicorn's own protocol on the same transport, so the
client address, TLS and keep-alive are exactly as before. An HTTP/2 connection is piped,
byte for byte, to the internal Flight server (``upstream``: a Unix socket), which reads the
client's token from its headers as on the Flight port: authentication and permissions are
the Flight server's, unchanged. A connection that sends nothing is closed after the header
timeout, as uvicorn's idle connections are (``connections.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

log = logging.getLogger(__name__)

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Server preference order: a client offering both gets HTTP/1.1 (uvicorn has no HTTP/2).
ALPN_PROTOCOLS = ["http/1.1", "h2"]


class _Pipe(asyncio.Protocol):
    """One direction's reader: bytes received here are written to ``peer``.

    Flow control couples the two sides: when ``peer``'s write buffer is full, this side
    stops reading (``pause_writing`` of the peer's protocol pauses this transport).
    """

    def __init__(self, peer: asyncio.Transport) -> None:
        self.peer = peer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.peer.write(data)

    def eof_received(self) -> bool | None:
        if self.peer.can_write_eof():
            self.peer.write_eof()
            return True  # keep our side open for the answer
        self.peer.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.close()

    def pause_writing(self) -> None:
        # Our transport's buffer is full: stop reading the side that fills it.
        self.peer.pause_reading()

    def resume_writing(self) -> None:
        self.peer.resume_reading()


class PortSharingProtocol(asyncio.Protocol):
    """The first protocol of every connection on the HTTP port (uvicorn's ``http=`` class).

    Subclasses made by ``port_sharing`` set ``http_class`` (uvicorn's protocol), ``upstream``
    (the Flight server's Unix socket) and ``sniff_timeout``.
    """

    http_class: type[asyncio.Protocol]
    upstream: str
    sniff_timeout: float = 10.0

    def __init__(self, **uvicorn_args: Any) -> None:
        self._uvicorn_args = uvicorn_args
        self._loop: asyncio.AbstractEventLoop = uvicorn_args.get("_loop") or (
            asyncio.get_event_loop()
        )
        self._transport: asyncio.Transport | None = None
        self._head = b""
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            # TLS is done: ALPN already says which protocol the client speaks.
            if ssl_object.selected_alpn_protocol() == "h2":
                self._to_flight()
            else:
                self._to_http()
            return
        if self.sniff_timeout > 0:
            self._timer = self._loop.call_later(self.sniff_timeout, transport.close)

    def data_received(self, data: bytes) -> None:
        self._head += data
        seen = min(len(self._head), len(H2_PREFACE))
        if self._head[:seen] != H2_PREFACE[:seen]:
            self._to_http()
        elif seen == len(H2_PREFACE):
            self._to_flight()

    def eof_received(self) -> bool | None:
        return None  # closed before choosing a side: nothing to answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._connecting is not None:
            self._connecting.cancel()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _to_http(self) -> None:
        """Hand the connection, and what it sent so far, to uvicorn's protocol."""
        self._cancel_timer()
        transport = self._transport
        assert transport is not None
        protocol = self.http_class(**self._uvicorn_args)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._head:
            protocol.data_received(self._head)

    def _to_flight(self) -> None:
        """Pipe the connection to the Flight server once the upstream socket is open."""
        self._cancel_timer()
        assert self._transport is not None
        self._transport.pause_reading()
        self._connecting = self._loop.create_task(self._connect(self._transport))

    async def _connect(self, client: asyncio.Transport) -> None:
        try:
            upstream, _ = await self._loop.create_unix_connection(
                lambda: _Pipe(client), self.upstream
            )
        except OSError as error:
            log.warning("gRPC on the HTTP port: the Flight server is unreachable: %s", error)
            client.close()
            return
        finally:
            self._connecting = None
        if client.is_closing():
            upstream.close()
            return
        client.set_protocol(_Pipe(upstream))
        if self._head:
            upstream.write(self._head)
        client.resume_reading()


def port_sharing(
    http_class: type[asyncio.Protocol], upstream: str, sniff_timeout: float
) -> type[PortSharingProtocol]:
    """uvicorn's ``http=`` class: HTTP/1.x to ``http_class``, gRPC to the socket ``upstream``."""
    return type(
        "PortSharingProtocol",
        (PortSharingProtocol,),
        {"http_class": http_class, "upstream": upstream, "sniff_timeout": sniff_timeout},
    )
