"""Local data files read through the loopback S3 endpoint (``query/loopback_files.py``).

The endpoint answers DataFusion's reads like a file, refuses requests without its key and
paths outside its folder, and the server reads its files through it by default. The last
test is issue 20's regression: queries over local files read this way leave a bounded RSS
(before, each query left about the bytes it read), in a fresh process (``slow``: ~10 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from bench.scan_retention import write_files
from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query.loopback_files import LoopbackFiles, requested_range

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def files(tmp_path: Path) -> Iterator[LoopbackFiles]:
    served = LoopbackFiles(tmp_path / "warehouse").serve()
    yield served
    served.close()


def test_datafusion_reads_a_local_file_through_it(tmp_path: Path) -> None:
    (tmp_path / "warehouse" / "a b").mkdir(parents=True)  # a space: the key is URL-quoted
    path = tmp_path / "warehouse" / "a b" / "x.parquet"
    pq.write_table(pa.table({"v": list(range(100_000))}), path, row_group_size=10_000)
    served = LoopbackFiles(tmp_path / "warehouse").serve()
    try:
        context = SessionContext()
        context.register_object_store(*served.store())
        context.register_parquet("x", served.url(f"file://{path}"))
        answer = context.sql("SELECT count(*) AS n, sum(v) AS s FROM x WHERE v >= 50000")
        assert answer.to_pydict() == {"n": [50_000], "s": [sum(range(50_000, 100_000))]}
    finally:
        served.close()


def test_refuses_requests_without_its_key(files: LoopbackFiles) -> None:
    files.root.mkdir(parents=True, exist_ok=True)
    (files.root / "x.parquet").write_bytes(b"PAR1")
    url = f"{files.endpoint}/flight-iox-local-files{files.root}/x.parquet"
    for header in ({}, {"Authorization": "AWS4-HMAC-SHA256 Credential=guess/20260101/x"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers=header), timeout=10)
        assert refused.value.code == 403
        refused.value.close()


def test_serves_only_files_under_its_folder(files: LoopbackFiles, tmp_path: Path) -> None:
    files.root.mkdir(parents=True, exist_ok=True)
    (files.root / "in.parquet").write_bytes(b"PAR1")
    (tmp_path / "out.parquet").write_bytes(b"PAR1")
    (files.root / "link.parquet").symlink_to(tmp_path / "out.parquet")
    inside = str(files.root / "in.parquet").lstrip("/")
    assert files.served_path(inside) == files.root / "in.parquet"
    for key in (
        str(tmp_path / "out.parquet").lstrip("/"),
        inside.replace("in.parquet", "../out.parquet"),
        str(files.root / "link.parquet").lstrip("/"),  # a link out of the folder
        str(files.root).lstrip("/"),  # the folder itself
        "etc/passwd",
    ):
        assert files.served_path(key) is None, key


def test_registered_files_keep_the_path_they_resolved_to(
    files: LoopbackFiles, tmp_path: Path
) -> None:
    files.root.mkdir(parents=True, exist_ok=True)
    (files.root / "real").mkdir()
    (files.root / "real" / "x.parquet").write_bytes(b"PAR1")
    (files.root / "alias").symlink_to(files.root / "real")  # inside the folder: served
    key = str(files.root / "alias" / "x.parquet").lstrip("/")
    files.url(f"file:///{key}", "db.t")
    assert files.served_path(key) == files.root / "real" / "x.parquet"
    (files.root / "alias").unlink()  # resolved at registration: still the same file
    assert files.served_path(key) == files.root / "real" / "x.parquet"
    files.keep_only(set())  # forgotten: each request is checked again
    assert files.served_path(key) is None
    (files.root / "alias").symlink_to(tmp_path)  # now out of the folder: refused
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    assert files.served_path(key) is None


def test_range_header() -> None:
    assert requested_range(None, 10) == (0, 10)
    assert requested_range("bytes=2-5", 10) == (2, 6)  # the end is inclusive in HTTP
    assert requested_range("bytes=4-", 10) == (4, 10)
    assert requested_range("bytes=-3", 10) == (7, 10)
    assert requested_range("bytes=8-20", 10) == (8, 10)
    for bad in ("bytes=10-12", "bytes=5-2", "bytes=a-b", "bytes=1-2,4-5", "lines=1-2"):
        assert requested_range(bad, 10) is None, bad


def test_the_server_reads_its_files_through_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", wal_fsync=False, parquet_cache_size=0)
    app = build_app(settings)
    try:
        assert app.loopback_files is not None
        app.engine.write_line_protocol(
            "db", b"cpu,host=a usage=1 1\ncpu,host=b usage=2 2", principal=ANONYMOUS
        )
        app.persister.persist()
        rows = app.sql.scoped(ANONYMOUS).execute("db", "SELECT sum(usage) AS s FROM cpu")
        assert rows.read_all().to_pydict() == {"s": [3.0]}
    finally:
        app.close()
    app = build_app(Settings(data_dir=tmp_path / "off", loopback_file_reads=False))
    try:
        assert app.loopback_files is None
    finally:
        app.close()


@pytest.mark.slow  # about 10 s, most of it writing the files
def test_queries_over_local_files_leave_bounded_memory(tmp_path: Path) -> None:
    read_mib = write_files(tmp_path, 3) / 2**20  # 3M rows; the aggregate reads ~25 MiB
    child = [sys.executable, str(ROOT / "bench" / "scan_retention.py"), "--queries", "8"]
    done = subprocess.run(
        [*child, "--child", str(tmp_path), "loopback", "-"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    held = json.loads(done.stdout.strip().splitlines()[-1])["held"]
    # Before the bound every query left about what it read: 7 x read_mib past the first.
    assert max(held[1:]) - held[1] < 4 * read_mib, (held, read_mib)
