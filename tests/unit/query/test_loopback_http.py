"""The loopback endpoint's HTTP side under clients that misbehave (``query/loopback_http.py``).

Raw sockets against a real endpoint: idle and slow connections are closed and bounded,
only idle ones give their slot up (the one idle longest), header lines and bytes are
counted, bodies refused, ``HEAD`` answers as ``GET`` does, and ``close``
ends every connection (also when building or closing the app fails).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionConfig, SessionContext

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query.loopback_files import BUCKET, LoopbackFiles

WAIT = 60  # seconds a socket read may block before the test fails (never a timing check)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[LoopbackFiles]:
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "x.parquet").write_bytes(b"0123456789")
    served = LoopbackFiles(tmp_path / "warehouse", max_connections=4, idle_timeout=0.5).serve()
    yield served
    served.close()


def connect(files: LoopbackFiles) -> socket.socket:
    port = int(files.endpoint.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return sock


def request(files: LoopbackFiles, method: str = "GET", extra: str = "") -> bytes:
    """A signed request for x.parquet (only the credential matters here)."""
    key = f"/{BUCKET}{files.root}/x.parquet"
    auth = f"Credential={files._key}/20260101/us-east-1/s3/aws4_request"
    return f"{method} {key} HTTP/1.1\r\nAuthorization: AWS4 {auth}\r\n{extra}\r\n".encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_head_with_a_range_answers_as_get(files: LoopbackFiles) -> None:
    with connect(files) as sock:
        sock.sendall(request(files, "HEAD", "Range: bytes=2-4\r\nConnection: close\r\n"))
        head = read_all(sock)
    assert head.startswith(b"HTTP/1.1 206 ") and b"Content-Length: 3\r\n" in head, head
    assert head.endswith(b"\r\n\r\n")  # no body


def test_a_request_head_over_its_bytes_bound_is_refused(files: LoopbackFiles) -> None:
    """Read before the key is checked: a stranger's connection holds at most 16 KiB."""
    with connect(files) as sock:
        sock.sendall(request(files, extra=f"X: {'a' * 20_000}\r\n"))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    with connect(files) as sock:  # a request line alone
        sock.sendall(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


def test_repeated_header_lines_count_toward_the_limit(files: LoopbackFiles) -> None:
    with connect(files) as sock:
        sock.sendall(request(files, extra="X: a\r\n" * 150))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


@pytest.mark.parametrize("body", ["Transfer-Encoding: chunked", "Content-Length: 0"])
def test_requests_with_a_body_are_refused_and_the_connection_closed(
    files: LoopbackFiles, body: str
) -> None:
    with connect(files) as sock:
        # A desync would answer the "body" as a second request.
        sock.sendall(request(files, extra=f"{body}\r\n") + b"0\r\n\r\n" + request(files))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1") == 1, answer


def test_an_idle_connection_is_closed(files: LoopbackFiles) -> None:
    with connect(files) as sock:
        assert sock.recv(100) == b""  # closed by the server after its idle timeout
    with connect(files) as sock:  # a slow request: headers never finished
        sock.sendall(b"GET / HTTP/1.1\r\nX: a\r\n")
        assert sock.recv(100) == b""


def test_connections_are_capped_and_idle_ones_give_way(files: LoopbackFiles) -> None:
    idle = [connect(files) for _ in range(20)]  # strangers holding connections, no key
    try:
        with connect(files) as sock:
            sock.sendall(request(files, extra="Connection: close\r\n"))
            answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"0123456789")
        assert files.peak_connections <= 4  # not a thread each
    finally:
        for sock in idle:
            sock.close()


def idle_connections(files: LoopbackFiles, count: int) -> None:
    """Wait until ``count`` connections are idle between requests."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with files._server._lock:
            if sum(since is not None for since in files._server._open.values()) == count:
                return
        time.sleep(0.01)
    raise AssertionError(f"never {count} idle connections")


def test_only_the_connection_idle_longest_gives_its_slot_up(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"0123456789")
    files = LoopbackFiles(tmp_path, max_connections=3, idle_timeout=WAIT).serve()
    try:
        reading = connect(files)  # first opened: a request begun, not finished
        idle_connections(files, 1)
        reading.sendall(request(files)[:20])
        idle_connections(files, 0)
        answered = connect(files)  # a request answered: idle since
        answered.sendall(request(files))
        assert read_response(answered).endswith(b"0123456789")
        idle_connections(files, 1)
        fresh = connect(files)  # idle too, since later
        idle_connections(files, 2)
        with connect(files) as sock:  # over the cap: takes the slot idle longest
            sock.sendall(request(files, extra="Connection: close\r\n"))
            assert read_all(sock).endswith(b"0123456789")
        assert answered.recv(100) == b""  # ended
        answered.close()
        for sock in (reading, fresh):  # still served
            sock.sendall(request(files)[20:] if sock is reading else request(files))
            assert read_response(sock).endswith(b"0123456789")
            sock.close()
        assert files.peak_connections <= 3
    finally:
        files.close()


def read_response(sock: socket.socket) -> bytes:
    """One answer to a GET of x.parquet on a kept-alive connection."""
    answer = b""
    while not answer.endswith(b"0123456789"):  # headers and body come in two writes
        chunk = sock.recv(65_536)
        assert chunk, answer
        answer += chunk
    return answer


def test_concurrent_queries_over_more_connections_than_the_cap_succeed(tmp_path: Path) -> None:
    """DataFusion reads many ranges at once from each query; over the cap, connections wait
    to be accepted and pooled idle ones are closed, never one with a read in flight."""
    rows = 20_000
    for i in range(8):  # row groups of 2,000: a range read each
        table = pa.table({"v": list(range(i, rows + i))})
        pq.write_table(table, tmp_path / f"{i}.parquet", row_group_size=2_000)
    served = LoopbackFiles(tmp_path, max_connections=2).serve()
    results: list[object] = []
    union = " UNION ALL ".join(f"SELECT v FROM t{i}" for i in range(8))

    def query() -> None:
        try:
            context = SessionContext(SessionConfig().with_target_partitions(8))
            context.register_object_store(*served.store())
            for i in range(8):
                context.register_parquet(f"t{i}", served.url(str(tmp_path / f"{i}.parquet")))
            for _ in range(3):
                results.append(context.sql(f"SELECT sum(v) AS s FROM ({union})").to_pydict())
        except Exception as error:  # the assertion below shows it
            results.append(error)

    try:
        threads = [threading.Thread(target=query) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        expected = {"s": [sum(sum(range(i, rows + i)) for i in range(8))]}
        assert results == [expected] * 12
        assert served.peak_connections <= 2
    finally:
        served.close()


def test_the_s3_client_reconnects_after_its_idle_connections_are_closed(tmp_path: Path) -> None:
    pq.write_table(pa.table({"v": list(range(1000))}), tmp_path / "x.parquet")
    served = LoopbackFiles(tmp_path, idle_timeout=0.2).serve()
    try:
        context = SessionContext()
        context.register_object_store(*served.store())
        context.register_parquet("x", served.url(str(tmp_path / "x.parquet")))
        for _ in range(2):
            assert context.sql("SELECT sum(v) AS s FROM x").to_pydict() == {"s": [499_500]}
            deadline = time.monotonic() + WAIT
            while served._server._open and time.monotonic() < deadline:  # pooled, then closed
                time.sleep(0.05)
            assert not served._server._open
    finally:
        served.close()


def test_close_ends_open_keep_alive_connections(files: LoopbackFiles) -> None:
    with connect(files) as sock:
        sock.sendall(request(files))
        answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 200 ")
        files.close()
        try:
            sock.sendall(request(files))
            answer = sock.recv(65_536)
        except ConnectionError:
            answer = b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 503 "), answer


def loopback_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "loopback-files"}


def test_the_endpoint_is_closed_when_building_the_app_fails(tmp_path: Path) -> None:
    before = loopback_threads()
    data = tmp_path / "data"
    data.mkdir()
    (data / "tmp").write_text("a file where the query spill folder goes")  # fails after
    with pytest.raises(OSError, match="query-spill"):  # after the endpoint started
        build_app(Settings(data_dir=data, wal_fsync=False))
    assert loopback_threads() <= before


def test_the_endpoint_is_closed_when_closing_the_wal_fails(tmp_path: Path) -> None:
    before = loopback_threads()
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=True))
    assert app.loopback_files is not None
    port = int(app.loopback_files.endpoint.rsplit(":", 1)[1])
    app.engine.write_line_protocol("db", b"cpu v=1 1", principal=ANONYMOUS)
    fd = app.wal._fd
    assert fd is not None
    os.close(fd)  # the WAL's file fails under it
    with pytest.raises(OSError):
        app.close()
    assert loopback_threads() <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
