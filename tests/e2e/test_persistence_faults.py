"""Persistence against a faulty object store: S3 answers 500, or never answers.

A small HTTP proxy on loopback sits between the server and moto and, while a
fault is switched on, fails every upload (PUT and multipart POST) with a 500
S3 error, or holds it without answering; it can also fail a few reads. A persist during
the fault must fail loudly (HTTP 500 naming the reason), keep the rows
queryable and the WAL on disk, and a later persist must succeed; nothing is
lost across a restart.

The servers here retry a failed S3 request after 25 ms, not the AWS SDK's random wait of up
to a second (``--s3-retry-mode legacy``), and give up on an unanswered one after 1 s, not 3
(``--s3-request-timeout``): each injected fault cost one to three seconds of waiting. The
tries are the same three, so a fault still fails a persist only once every try failed.
"""

from __future__ import annotations

import http.client
import re
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, run_cli, start_server
from tests.e2e.moto_s3 import MotoS3, moto_s3, set_aws_env
from tests.e2e.test_persistence import T0, persist, query, write
from tests.e2e.test_persistence_s3 import pyiceberg_catalog

__all__ = ["moto_s3"]  # the fixture, imported for pytest

S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>injected fault</Message><RequestId>iox</RequestId></Error>"
)
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}


class FaultyProxy(ThreadingHTTPServer):
    """Forwards S3 requests to moto; while ``mode`` is set, uploads fail or hang."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.removeprefix("http://")
        self.mode: str | None = None  # None, "error" or "hang"
        self.only: str | None = None  # fail only requests whose path matches this regex
        self.failing_gets = 0  # fail this many of the next downloads (with ``only``)
        self.hanging = 0  # hold this many of the next uploads, whatever ``mode`` says
        self.hang_seconds = 5.0
        self.faults = 0

    @property
    def endpoint(self) -> str:
        """The proxy's URL, for ``--s3-endpoint``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultyProxy

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _body(self) -> bytes:
        """The request body; the AWS SDK streams uploads with ``Transfer-Encoding: chunked``."""
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # HTTP trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _fault(self) -> str | None:
        """What to do instead of forwarding: ``"error"``, ``"hang"`` or None."""
        server = self.server
        if server.only is not None and not re.search(server.only, self.path):
            return None
        if self.command == "GET":
            if server.failing_gets <= 0:
                return None
            server.failing_gets -= 1
            return "error"
        if self.command not in ("PUT", "POST"):
            return None
        if server.hanging > 0:
            server.hanging -= 1
            return "hang"
        return server.mode

    def _forward(self) -> None:
        body = self._body()
        mode = self._fault()
        if mode is not None:
            self.server.faults += 1
            if mode == "hang":  # say nothing, then drop the connection
                time.sleep(self.server.hang_seconds)
                self.close_connection = True
                return
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(S3_ERROR)))
            self.end_headers()
            self.wfile.write(S3_ERROR)
            return
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            payload = reply.read()
        finally:
            upstream.close()
        self.send_response(reply.status, reply.reason)
        for key, value in reply.getheaders():
            if key.lower() not in HOP_HEADERS:
                self.send_header(key, value)
        if self.command == "HEAD":  # no body, but the object's length
            self.send_header("Content-Length", reply.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@pytest.fixture
def proxy(moto_s3: MotoS3) -> Iterator[FaultyProxy]:
    running = FaultyProxy(moto_s3.endpoint)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def _flags(moto_s3: MotoS3, proxy: FaultyProxy, prefix: str) -> list[str]:
    """The server's S3 flags through the proxy, with short S3 retry waits (see the docstring)."""
    fast = ["--s3-retry-mode", "legacy", "--s3-request-timeout", "1"]
    return [*moto_s3.flags(endpoint=proxy.endpoint, prefix=prefix), *fast]


def _lines(start: int, count: int) -> str:
    rows = range(start, start + count)
    return "\n".join(f"m,k=k{i % 5} v={i}i {T0 + i * 1_000_003}" for i in rows)


def _total(server: RunningServer) -> list[dict]:
    return query(server, "f", "SELECT count(*) AS n, sum(v) AS s FROM m")


def _expect(count: int) -> list[dict]:
    return [{"n": count, "s": sum(range(count))}]


def _failed_persist(server: RunningServer) -> str:
    reply = requests.post(f"{server.http_url}/api/v3/persist", timeout=300)
    assert reply.status_code == 500, reply.text
    return reply.json()["error"]


def _wal_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "wal").rglob("*") if p.is_file())


def test_s3_errors_fail_the_persist_and_keep_everything(
    tmp_path: Path, moto_s3: MotoS3, proxy: FaultyProxy
) -> None:
    data_dir = tmp_path / "data"
    flags = _flags(moto_s3, proxy, "errors")
    server = start_server(data_dir, *flags, timeout=120)
    try:
        write(server, "f", _lines(0, 100))
        assert persist(server)["rows"] == 100  # the table exists in S3 and has a file
        write(server, "f", _lines(100, 100))
        wal_before = _wal_bytes(data_dir)
        proxy.mode = "error"
        error = _failed_persist(server)
        assert "persist failed" in error and "f.m" in error
        assert proxy.faults > 0
        assert _total(server) == _expect(200)  # the rows stay queryable from the buffer
        assert _wal_bytes(data_dir) >= wal_before > 0  # the WAL is kept
        write(server, "f", _lines(200, 50))  # writes go on during the outage
        cli = run_cli(["persist", "--host", server.http_url])
        assert cli.returncode != 0 and "persist failed" in cli.stderr, cli.stderr
        write(server, "f", f"x,k=new v=7i {T0}")  # a new table, never committed
        proxy.only = "/f/x-[0-9a-f]+/"  # now only the new table's uploads fail (folder <name>-<id>)
        assert "f.x" in _failed_persist(server)  # m commits a later WAL sequence than x's
        assert _total(server) == _expect(250)
        server.kill()  # crash during the outage: the WAL has everything
        proxy.mode = None
        server = start_server(data_dir, *flags, timeout=120)
        assert _total(server) == _expect(250)
        assert query(server, "f", "SELECT k, v FROM x") == [{"k": "new", "v": 7}]
        persist(server)  # the later persist succeeds
        assert _total(server) == _expect(250)
    finally:
        server.stop()
    shutil.rmtree(data_dir / "wal")  # now the catalog alone has everything
    server = start_server(data_dir, *flags, timeout=120)
    try:
        assert _total(server) == _expect(250)
        assert query(server, "f", "SELECT k, v FROM x") == [{"k": "new", "v": 7}]
    finally:
        server.stop()


def test_s3_timeout_is_retried_and_the_persist_succeeds(
    tmp_path: Path, moto_s3: MotoS3, proxy: FaultyProxy
) -> None:
    server = start_server(tmp_path / "data", *_flags(moto_s3, proxy, "retry"), timeout=120)
    try:
        write(server, "f", _lines(0, 30))
        proxy.hanging, proxy.hang_seconds = 1, 60.0  # the first upload never gets an answer
        assert persist(server)["rows"] == 30
        assert proxy.faults == 1
        assert _total(server) == _expect(30)
        table = pyiceberg_catalog(server.http_url).load_table(("f", "m"))
        assert table.scan().to_arrow().num_rows == 30
    finally:
        server.stop()


@pytest.mark.slow
def test_s3_timeouts_fail_the_persist_and_a_retry_succeeds(
    tmp_path: Path, moto_s3: MotoS3, proxy: FaultyProxy
) -> None:
    data_dir = tmp_path / "data"
    flags = moto_s3.flags(endpoint=proxy.endpoint, prefix="timeouts")
    server = start_server(data_dir, *flags, timeout=120)
    try:
        write(server, "f", _lines(0, 80))
        proxy.mode = "hang"  # longer than the S3 client's request timeout (3 s, 3 tries)
        proxy.hang_seconds = 60.0
        error = _failed_persist(server)
        assert "persist failed" in error
        assert _total(server) == _expect(80)
        assert _wal_bytes(data_dir) > 0
        proxy.mode = None
        assert persist(server)["rows"] == 80
        assert _total(server) == _expect(80)
    finally:
        server.stop()


def test_commit_faults_keep_the_spec_and_write_rows_once(
    tmp_path: Path, moto_s3: MotoS3, proxy: FaultyProxy
) -> None:
    """The table's creation and its spec and sort order are one commit, or a fault splits them."""
    server = start_server(tmp_path / "data", *_flags(moto_s3, proxy, "spec"), timeout=120)
    try:
        write(server, "f", _lines(0, 20))
        proxy.mode = "error"
        proxy.only = "/f/m-[0-9a-f]+/metadata/00001-"  # the table's second commit
        _failed_persist(server)
        proxy.mode = None
        assert persist(server)["rows"] == 20
        assert _total(server) == _expect(20)
        table = pyiceberg_catalog(server.http_url).load_table(("f", "m"))
        assert [f.name for f in table.spec().fields] == ["time_day"]
        assert len(table.sort_order().fields) == 2  # k, then time
        write(server, "f", _lines(20, 20))
        proxy.only, proxy.failing_gets = r"-m0\.avro", 5  # reading the manifests, after commit
        assert persist(server)["rows"] == 20  # the commit landed: no failure, no second copy
        assert table.refresh().scan().to_arrow().num_rows == 40
        assert _total(server) == _expect(40)
    finally:
        server.stop()
