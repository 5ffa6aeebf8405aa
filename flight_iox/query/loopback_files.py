"""Local data files served to DataFusion as an S3 bucket on loopback, to bound memory.

Why (issue 20): DataFusion reads a local Parquet file through object_store's local file
system, which reads every byte range on one of tokio's *blocking* threads, into a buffer
that thread allocates; the query's worker threads decode it and free it. The ``datafusion``
wheel's allocator is mimalloc 2.3.2 (statically linked; pyarrow's own is 3.x). There a
buffer over 128 KiB always gets a fresh page of the allocating thread's heap, and a block
freed by another thread is only queued to its owner, which takes it back when it next
allocates through the slow path a hundred times (a hard-coded count) or when the thread
exits (tokio keeps an idle blocking thread 10 s). Blocking threads allocate little else, so
each holds the buffers of its last reads: RSS grew by about the bytes every query read,
O(rows), and fell back only after 10 s without queries (docs/benchmarks.md). No mimalloc
option changes either path (``MIMALLOC_GENERIC_COLLECT``, ``PURGE_DELAY``,
``TARGET_SEGMENTS_PER_THREAD`` measured: no change).

The same files read through object_store's S3 client leave nothing: its responses are read
and freed on tokio's workers, whose heaps reuse them. So the server reads its local files
that way: this serves ``GET`` (with ``Range``) and ``HEAD`` of the files under the warehouse
folder on ``127.0.0.1`` and a free port, answering only requests signed with a random access
key made at start (held in this process; a plan's file URLs name the bucket, not the key).
The bytes go out with ``sendfile``, so Python never holds them. DataFusion's own Parquet
reader, its pruning and its pushdown are unchanged.
"""

from __future__ import annotations

import logging
import os
import secrets
import socketserver
import threading
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from iox_catalog.object_store import DataFusionStore
from iox_catalog.storage import uri_path

log = logging.getLogger(__name__)

BUCKET = "flight-iox-local-files"  # what file URLs (and plans) show: s3://BUCKET/abs/path
_REGION = "us-east-1"


class LoopbackFiles:
    """A read-only S3 endpoint for the files under ``root``; ``close`` stops it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self._key = secrets.token_hex(16)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.files = self
        # Polled every 0.1 s for ``close`` (the default 0.5 s would slow every app's close).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="loopback-files", daemon=True
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def store(self) -> DataFusionStore:
        """``register_object_store`` arguments for the bucket (every query context needs it)."""
        from datafusion.object_store import AmazonS3  # the query layer's client

        store = AmazonS3(
            bucket_name=BUCKET,
            region=_REGION,
            access_key_id=self._key,
            secret_access_key=self._key,
            endpoint=self.endpoint,
            allow_http=True,
        )
        return DataFusionStore("s3://", store, BUCKET)

    def url(self, path: str) -> str:
        """The URL DataFusion reads the local file ``path`` (or ``file://`` URI) at."""
        return f"s3://{BUCKET}{quote(os.path.abspath(uri_path(path)))}"

    def served_path(self, key: str) -> Path | None:
        """The file a request's (unquoted) object key names, if under ``root``."""
        path = Path(os.path.realpath("/" + key))
        return path if path.is_relative_to(self.root) and path.is_file() else None

    def authorized(self, header: str | None) -> bool:
        """Whether a SigV4 ``Authorization`` header carries this server's access key."""
        return header is not None and f"Credential={self._key}/" in header

    def close(self) -> None:
        """Stop serving (connections still open end with their requests)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the S3 client opens a connection per concurrent range read
    files: LoopbackFiles

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A query cancelled mid-read closes its connection: not worth a traceback.
        log.debug("loopback file read from %s ended early", client_address, exc_info=True)


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 ``GET`` and ``HEAD`` with keep-alive, parsed by hand: ``http.server``'s
    parsing and headers cost about twice as much Python per read, on every query's path."""

    # Headers and body go out in separate writes: with Nagle's algorithm the body's first
    # segment waits for the client's delayed ACK (~40 ms a read; small queries 20x slower).
    disable_nagle_algorithm = True
    server: _Server

    def handle(self) -> None:
        while True:
            request = self.rfile.readline(_MAX_LINE)
            if not request.strip():
                return  # the client closed its connection (or sent nothing)
            headers: dict[str, str] = {}
            while (line := self.rfile.readline(_MAX_LINE)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
                if len(headers) > _MAX_HEADERS:
                    return
            method, target, *_ = [*request.decode("latin-1").split(), "", ""]
            if method not in ("GET", "HEAD") or "content-length" in headers:  # no bodies
                self._send(405 if method not in ("GET", "HEAD") else 400, close=True)
                return
            self._answer(method == "GET", target, headers)
            if headers.get("connection", "").lower() == "close":
                return

    def _answer(self, body: bool, target: str, headers: dict[str, str]) -> None:
        files = self.server.files
        if not files.authorized(headers.get("authorization")):
            self._send(403)
            return
        bucket, _, key = unquote(target.split("?", 1)[0]).lstrip("/").partition("/")
        path = files.served_path(key) if bucket == BUCKET else None
        try:
            file = path.open("rb") if path is not None else None
        except OSError:  # removed since (compaction, retention): as S3 would answer
            file = None
        if file is None:
            self._send(404)
            return
        with file:
            stat = os.fstat(file.fileno())
            size = stat.st_size
            asked = headers.get("range")
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
            self._send(206 if asked else 200, fields, end - start if body else size)
            offset, socket = start, self.connection.fileno()
            while body and offset < end:
                sent = os.sendfile(socket, file.fileno(), offset, end - offset)
                if sent == 0:
                    raise ConnectionError("the file shrank while being sent")
                offset += sent

    def _send(self, status: int, fields: str = "", length: int = 0, close: bool = False) -> None:
        """The status line and headers, in one write."""
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n{fields}Content-Length: {length}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        )
        self.connection.sendall(head.encode("latin-1"))


_MAX_LINE, _MAX_HEADERS = 65_536, 100
_REASONS = {
    200: "OK",
    206: "Partial Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
}


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
