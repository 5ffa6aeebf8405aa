"""A subscription destination for tests: a real HTTP server on loopback that keeps what it gets.

It answers ``POST /write`` as InfluxDB does (204), records each request's query string and
line-protocol body, and can be told to fail (answer 500) or be stopped and started again
on the same port (a destination that dies and comes back).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Receiver:
    """One destination: ``url`` to subscribe, ``lines()`` to read what arrived."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[str, dict[str, list[str]], bytes, str | None]] = []
        self.failing = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        """What CREATE SUBSCRIPTION names."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again) on the port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                parts = urlsplit(self.path)
                with receiver._lock:
                    receiver.requests.append(
                        (parts.path, parse_qs(parts.query), body, self.headers.get("Authorization"))
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def lines(self) -> list[str]:
        """Every line received, in order of arrival."""
        with self._lock:
            bodies = [r[2] for r in self.requests]
        return [line for body in bodies for line in body.decode().splitlines() if line]

    def wait_for(self, count: int, timeout: float = 60) -> list[str]:
        """The lines once at least ``count`` arrived (or what arrived by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(lines := self.lines()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return lines
