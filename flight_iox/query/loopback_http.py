"""The HTTP side of ``loopback_files.py``: ``GET`` and ``HEAD`` of local files for the S3 client.

One thread per connection, as ``socketserver`` does, but bounded: at most
``max_connections`` are served at once (more wait in the listen queue), a connection that
sends nothing for ``idle_timeout`` seconds is closed, and when every slot is taken, the
oldest connection still reading a request gives its slot up (the S3 client keeps idle
connections pooled, and a stranger need not present the key to hold one). The client
reconnects for a pooled connection closed under it, and retries a read that fails that way.
Requests with a body (``Content-Length``, ``Transfer-Encoding``) are refused: nothing here
takes one, and a body left unread would be parsed as the next request. ``close`` stops
answering at once, on every open connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import struct
import threading
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

log = logging.getLogger(__name__)

_MAX_LINE, _MAX_HEADERS = 65_536, 100
_REASONS = {
    200: "OK",
    206: "Partial Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class ServedFiles(Protocol):
    """What the handler asks of ``LoopbackFiles``."""

    bucket: str

    def authorized(self, header: str | None) -> bool:
        """Whether a request's ``Authorization`` header carries the key."""
        ...

    def served_path(self, key: str) -> Path | None:
        """The file an (unquoted) object key names, if served."""
        ...

    def missing(self, key: str) -> bytes:
        """The body of a 404 for ``key``: the error a query that needed it reports."""
        ...


class LoopbackServer(socketserver.ThreadingTCPServer):
    """Threads per connection, at most ``max_connections`` of them; ``stop`` ends them all."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the S3 client opens a connection per concurrent range read

    def __init__(self, files: ServedFiles, max_connections: int, idle_timeout: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.idle_timeout = idle_timeout
        self.closed = False
        self.peak = 0  # the most connections served at once (tests check the bound)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        # Each open connection -> whether it is reading a request (its slot may be taken).
        self._open: dict[socket.socket, bool] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start the connection's thread once a slot is free (the listen queue holds it)."""
        while not self._slots.acquire(timeout=0.1):
            if self.closed:
                self.shutdown_request(request)
                return
            self._end_one_reading()
        with self._lock:
            if self.closed:
                self._slots.release()
                self.shutdown_request(request)
                return
            self._open[request] = True
            self.peak = max(self.peak, len(self._open))
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)
            self._slots.release()

    def reading(self, request: socket.socket, reading: bool) -> None:
        """Mark a connection as reading a request (or answering one, when False)."""
        with self._lock:
            if request in self._open:
                self._open[request] = reading

    def stop(self) -> None:
        """Stop accepting and end every open connection (a request being answered fails)."""
        self.closed = True
        self.shutdown()
        self.server_close()
        with self._lock:
            for request in self._open:
                _end(request)

    def _end_one_reading(self) -> None:
        with self._lock:
            for request, reading in self._open.items():
                if reading:
                    self._open[request] = False  # not picked twice
                    _end(request)
                    return

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A query cancelled mid-read, an idle connection timed out or ended: no traceback.
        log.debug("loopback file read from %s ended early", client_address, exc_info=True)


def _end(request: socket.socket) -> None:
    """Wake the connection's thread (its read returns end of file) and close it."""
    with contextlib.suppress(OSError):  # already gone
        request.shutdown(socket.SHUT_RDWR)


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 ``GET`` and ``HEAD`` with keep-alive, parsed by hand: ``http.server``'s
    parsing and headers cost about twice as much Python per read, on every query's path."""

    # Headers and body go out in separate writes: with Nagle's algorithm the body's first
    # segment waits for the client's delayed ACK (~40 ms a read; small queries 20x slower).
    disable_nagle_algorithm = True
    server: LoopbackServer

    def setup(self) -> None:
        # Every read and write waits at most this long; then the connection ends. Set in the
        # kernel: a Python socket timeout polls before every recv and send (~7% a query).
        seconds = self.server.idle_timeout
        timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            self.request.setsockopt(socket.SOL_SOCKET, option, timeval)
        super().setup()

    def handle(self) -> None:
        server = self.server
        while not server.closed:
            server.reading(self.connection, True)
            # A line without its end: the client closed, went silent (the kernel's timeout
            # reads as the end of the stream) or sent too much; nothing is answered.
            request = self.rfile.readline(_MAX_LINE)
            if not request.endswith(b"\n") or not request.strip():
                return
            headers: dict[str, str] = {}
            lines = 0
            while (line := self.rfile.readline(_MAX_LINE)) not in (b"\r\n", b"\n"):
                if not line.endswith(b"\n"):
                    return
                lines += 1  # lines, not names: a name repeated is still one more line
                if lines > _MAX_HEADERS:
                    self._send(431, close=True)
                    return
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            server.reading(self.connection, False)
            if server.closed:
                self._send(503, close=True)
                return
            method, target, *_ = [*request.decode("latin-1").split(), "", ""]
            if method not in ("GET", "HEAD"):
                self._send(405, close=True)
                return
            if "content-length" in headers or "transfer-encoding" in headers:  # no bodies
                self._send(400, close=True)
                return
            self._answer(method == "GET", target, headers)
            if headers.get("connection", "").lower() == "close":
                return

    def _answer(self, body: bool, target: str, headers: dict[str, str]) -> None:
        files = self.server.files
        if not files.authorized(headers.get("authorization")):
            self._send(403)
            return
        location, _, query = target.partition("?")
        bucket, _, key = unquote(location).lstrip("/").partition("/")
        if bucket != files.bucket:
            self._send(404)
            return
        if not key:  # a listing: DataFusion lists ``<file>/`` when the file is gone
            key = parse_qs(query).get("prefix", [""])[0]
            file = None
        else:
            path = files.served_path(key)
            try:
                file = path.open("rb") if path is not None else None
            except OSError:  # removed since (compaction, retention): as S3 would answer
                file = None
        if file is None:
            # The error the query reports, as the body (a HEAD has none, only its length).
            missing = files.missing(key)
            fields = "Content-Type: text/plain\r\n"
            self._send(404, fields, len(missing), body=missing if body else b"")
            return
        with file:
            self._send_file(file, body, headers.get("range"))

    def _send_file(self, file: Any, body: bool, asked: str | None) -> None:
        stat = os.fstat(file.fileno())
        size = stat.st_size
        span = requested_range(asked, size)
        if span is None:
            self._send(416, f"Content-Range: bytes */{size}\r\n")
            return
        start, end = span
        fields = (f"Content-Range: bytes {start}-{end - 1}/{size}\r\n" if asked else "") + (
            f"Last-Modified: {formatdate(stat.st_mtime, usegmt=True)}\r\n"
            f'ETag: "{stat.st_ino:x}-{stat.st_mtime_ns:x}-{size:x}"\r\n'
            "Accept-Ranges: bytes\r\n"
        )
        # HEAD answers as GET would, without the body: the range's length.
        self._send(206 if asked else 200, fields, end - start)
        offset, socket_fd = start, self.connection.fileno()
        while body and offset < end:  # a client that stops reading times out (BlockingIOError)
            sent = os.sendfile(socket_fd, file.fileno(), offset, end - offset)
            if sent == 0:
                raise ConnectionError("the file shrank while being sent")
            offset += sent

    def _send(
        self, status: int, fields: str = "", length: int = 0, close: bool = False, body: bytes = b""
    ) -> None:
        """The status line and headers (and a small body), in one write."""
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n{fields}"
            f"Content-Length: {length}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
        )
        self.connection.sendall(head.encode("latin-1") + body)


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of one ``Range: bytes=...`` (the whole file without one); None if
    unsatisfiable. The S3 client asks for one range per request."""
    if header is None:
        return 0, size
    first, sep, last = header.removeprefix("bytes=").partition("-")
    try:
        if not sep or "," in last:
            return None
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size
        else:
            start, end = int(first), min(size, int(last) + 1) if last else size
    except ValueError:
        return None
    return (start, end) if 0 <= start < end else None
