"""Two servers sharing one PostgreSQL catalog and one S3 warehouse (moto).

Each server owns its own databases. What one persists, the other reads after a
restart, and PyIceberg reads both through the printed catalog properties. Each
run uses a fresh PostgreSQL database, dropped afterwards; the tests skip when no
PostgreSQL answers at 127.0.0.1:5432.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.moto_s3 import MotoS3, moto_s3, set_aws_env
from tests.e2e.test_persistence import T0, persist, query, write
from tests.e2e.test_persistence_s3 import pyiceberg_catalog

__all__ = ["moto_s3"]  # the fixture, imported for pytest

PG_HOST = "127.0.0.1"
PG_PORT = 5432


def _admin_connection() -> tuple[psycopg.Connection | None, str | None]:
    """An autocommit connection to the ``test`` database, and the user that worked."""
    for user in ("postgres", "root"):
        try:
            return psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=user, dbname="test", autocommit=True,
                connect_timeout=5,
            ), user  # fmt: skip
        except psycopg.OperationalError:
            continue
    return None, None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URI of a new, empty PostgreSQL database, dropped (sessions and all) on exit."""
    connection, user = _admin_connection()
    if connection is None:
        pytest.skip(f"no PostgreSQL answers at {PG_HOST}:{PG_PORT} (database 'test')")
    name = f"iox_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def catalog_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for this module's catalog, dropped afterwards."""
    with fresh_postgres_database() as uri:
        yield uri


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def _start_both(root: Path, flags: list[str]) -> tuple[RunningServer, RunningServer]:
    """Start two servers at once (both create the catalog tables on a fresh database)."""
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(start_server, root / name, *flags, timeout=120) for name in ("a", "b")
        ]
        errors = [f.exception() for f in futures]
        started = [f.result() for f, e in zip(futures, errors, strict=True) if e is None]
    if any(errors):
        for server in started:
            server.stop()
        raise next(e for e in errors if e is not None)
    return started[0], started[1]


def test_two_servers_share_one_catalog_and_warehouse(
    tmp_path: Path, catalog_uri: str, moto_s3: MotoS3
) -> None:
    flags = ["--catalog-uri", catalog_uri, *moto_s3.flags(prefix="shared")]
    a, b = _start_both(tmp_path, flags)
    try:
        write(a, "alpha", "\n".join(f"cpu,host=h{i % 3} v={i} {T0 + i * 1001}" for i in range(90)))
        write(b, "beta", "\n".join(f"mem,host=m{i % 2} free={i}i {T0 + i}" for i in range(40)))
        assert persist(a)["rows"] == 90
        assert persist(b)["rows"] == 40
        write(a, "alpha", f"cpu,host=h0 v=1000 {T0}")  # overwrite a persisted key, in the WAL
    finally:
        a.kill()  # no shutdown persist: the overwrite stays in a's WAL only
        b.stop()
    shutil.rmtree(b.data_dir / "wal")

    b = start_server(b.data_dir, *flags, timeout=120)
    try:  # b sees what a persisted, and its own data from the catalog alone
        assert query(b, "alpha", "SELECT count(*) AS n, sum(v) AS s FROM cpu") == [
            {"n": 90, "s": float(sum(range(90)))}
        ]
        assert query(b, "beta", "SELECT count(*) AS n FROM mem") == [{"n": 40}]
        write(b, "beta", f"mem,host=m9 free=7i {T0 + 10_000}")
        persist(b)
    finally:
        b.stop()

    a = start_server(a.data_dir, *flags, timeout=120)
    try:  # a replays its WAL on top of its files and sees b's latest commit
        rows = query(a, "alpha", "SELECT v FROM cpu WHERE host = 'h0' ORDER BY time LIMIT 1")
        assert rows == [{"v": 1000.0}]
        assert query(a, "alpha", "SELECT count(*) AS n FROM cpu") == [{"n": 90}]
        assert query(a, "beta", "SELECT count(*) AS n FROM mem") == [{"n": 41}]
        persist(a)
        catalog = pyiceberg_catalog(a.http_url)
        try:
            assert catalog.properties["uri"].startswith("postgresql")
            cpu = catalog.load_table(("alpha", "cpu")).scan().to_arrow()
            assert cpu.num_rows >= 90  # files before dedupe: the overwrite is a second file
            assert catalog.load_table(("beta", "mem")).scan().to_arrow().num_rows == 41
        finally:
            catalog.engine.dispose()  # its pooled PostgreSQL connections, closed now, not by GC
    finally:
        a.stop()
