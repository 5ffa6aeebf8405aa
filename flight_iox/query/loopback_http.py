"""The HTTP side of ``loopback_files.py``: ``GET`` and ``HEAD`` of local files for the S3 client.

One thread per connection, as ``socketserver`` does, but bounded: at most
``max_connections`` are served at once (more wait in the listen queue), a connection that
sends nothing for ``idle_timeout`` seconds is closed, and when every slot is taken, the
connection idle longest between requests (nothing of a next request seen in the kernel's
buffer) gives its slot up: the S3 client keeps idle connections pooled, and
a stranger need not present the key to hold one. A connection that has received any byte of
a request, or is answering one, is never ended that way (the S3 client would retry a read
cut short, with a backoff: queries 30x slower); with none idle, the new connection waits in
the listen queue. The client reconnects for a pooled connection closed under it. One race
is left: a request whose bytes the handler has just moved from the kernel into Python's
buffer, before it marks itself busy, can still be ended; the S3 client then retries it (a
slower read, never a wrong one), and only when every slot is taken. A request's
head is bounded in bytes (``_MAX_HEAD``; 431 past it) before its key is checked, so a local
stranger holds little memory per connection.
Requests with a body (``Content-Length``, ``Transfer-Encoding``) are refused: nothing here
takes one, and a body left unread would be parsed as the next request. ``close`` stops
answering at once, on every open connection.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import socketserver
import struct
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

log = logging.getLogger(__name__)

# A request's line and headers, at most (an S3 client's ``GET`` is under 1 KiB), and lines.
_MAX_HEAD, _MAX_HEADERS = 16_384, 100
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
    request_queue_size = 512  # the S3 client opens a connection per concurrent range read

    def __init__(self, files: ServedFiles, max_connections: int, idle_timeout: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.idle_timeout = idle_timeout
        self.closed = False
        self.peak = 0  # the most connections served at once (tests check the bound)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        # Each open connection -> since when it has been idle between requests (its slot may
        # be taken), or None while it reads or answers one.
        self._open: dict[socket.socket, float | None] = {}
        self._changed = threading.Event()  # a connection went idle or ended

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start the connection's thread once a slot is free (the listen queue holds it)."""
        while not self._slots.acquire(blocking=False):
            if self.closed:
                self.shutdown_request(request)
                return
            # A slot frees when the ended connection's thread exits; with none idle, when a
            # connection closes, or goes idle and is ended here: either wakes this loop.
            self._changed.clear()
            self._end_longest_idle()
            self._changed.wait(0.1)
        with self._lock:
            if self.closed:
                self._slots.release()
                self.shutdown_request(request)
                return
            self._open[request] = None  # not idle until its thread waits for a request
            self.peak = max(self.peak, len(self._open))
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)
            self._slots.release()
            self._changed.set()

    def idle(self, request: socket.socket, idle: bool) -> None:
        """Mark a connection as idle between requests (or busy with one, when False)."""
        with self._lock:
            if request in self._open:
                self._open[request] = time.monotonic() if idle else None
        if idle:
            self._changed.set()

    def stop(self) -> None:
        """Stop accepting and end every open connection (a request being answered fails)."""
        self.closed = True
        self.shutdown()
        self.server_close()
        with self._lock:
            for request in self._open:
                _end(request)

    def _end_longest_idle(self) -> None:
        """End the connection idle longest whose next request has not begun to arrive."""
        with self._lock:
            idle = sorted((since, id(r), r) for r, since in self._open.items() if since is not None)
            for _, _, request in idle:
                if _received(request):  # its thread has yet to wake for it: busy
                    continue
                self._open[request] = None  # not picked twice
                _end(request)
                return

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A query cancelled mid-read, an idle connection timed out or ended: no traceback.
        log.debug("loopback file read from %s ended early", client_address, exc_info=True)


def _received(request: socket.socket) -> bool:
    """Whether bytes wait in the connection's kernel buffer (or it is gone)."""
    try:
        return bool(request.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False
    except OSError:
        return True  # gone: its thread ends it and frees the slot


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
    rfile: io.BufferedReader  # ``rbufsize`` is the default -1: ``peek`` is there

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
            # Idle (its slot may be taken) only until a byte of the next request arrives:
            # ``peek`` returns once one has (or at the end of the stream, or the timeout).
            server.idle(self.connection, True)
            waiting = self.rfile.peek(1)
            server.idle(self.connection, False)
            if not waiting:
                return
            head = self._read_head()
            if head is None:
                return
            request, headers = head
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

    def _read_head(self) -> tuple[bytes, dict[str, str]] | None:
        """The request line and headers; None (after a 431 if too large) to end the
        connection. A line without its end: the client closed, went silent (the kernel's
        timeout reads as the end of the stream) or sent too much."""
        left = _MAX_HEAD
        request = self.rfile.readline(left)
        left -= len(request)
        if not request.endswith(b"\n") or not request.strip():
            if left == 0:
                self._send(431, close=True)
            return None
        headers: dict[str, str] = {}
        lines = 0
        while (line := self.rfile.readline(left)) not in (b"\r\n", b"\n"):
            left -= len(line)
            lines += 1  # lines, not names: a name repeated is still one more line
            if left == 0 or lines > _MAX_HEADERS:
                self._send(431, close=True)
                return None
            if not line.endswith(b"\n"):
                return None
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return request, headers

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
