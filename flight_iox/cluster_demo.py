"""A local cluster in one command: ``python -m flight_iox.cluster_demo``.

Starts a moto S3 server (in this process), makes a fresh PostgreSQL database for the
catalog (``--postgres``, default the local server's ``test`` database's server), and runs
2 ingest, 1 query and 1 compact ``flight-iox serve`` processes on free loopback ports
(docs/cluster.md). It prints where each node listens and a write and a query to try,
then waits for Ctrl-C, stops the nodes and drops the database. Needs the ``test`` extra
(moto) and a PostgreSQL the current user may create databases on.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flight_iox.launcher import RunningServer, start_server

REGION = "us-east-1"
ROLES = {"in1": "ingest", "in2": "ingest", "q1": "query", "c1": "compact"}


def fix_moto_multipart() -> None:
    """Make moto answer CompleteMultipartUpload with S3's root element.

    moto 5.2 names it ``CompleteMultipartUploadResponse``; S3 says
    ``CompleteMultipartUploadResult``, and Arrow (>= 15) treats any other root as
    an error embedded in a 200 response, so every pyarrow upload to moto fails.
    The moto server runs in this process, so the fix is a wrapper on its serializer.
    """
    from moto.core.serialize import S3Serializer

    original = S3Serializer._serialized_result_to_response
    if getattr(original, "_iox_fixed", False):
        return

    def fixed(self: Any, resp: Any, result: Any, shape: Any, serialized_result: Any) -> Any:
        resp = original(self, resp, result, shape, serialized_result)
        if self.operation_model.name == "CompleteMultipartUpload":
            wrong, right = "CompleteMultipartUploadResponse", "CompleteMultipartUploadResult"
            resp["body"] = resp["body"].replace(f"<{wrong}", f"<{right}")
            resp["body"] = resp["body"].replace(f"</{wrong}>", f"</{right}>")
        return resp

    fixed._iox_fixed = True  # type: ignore[attr-defined]
    S3Serializer._serialized_result_to_response = fixed  # type: ignore[method-assign]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port; its endpoint URL."""
    from moto.server import ThreadedMotoServer  # the test extra

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fix_moto_multipart()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def fresh_database(server_uri: str) -> Iterator[str]:
    """A new PostgreSQL database on ``server_uri`` (``postgresql://user@host:port/db``)."""
    import psycopg

    name = f"iox_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_uri, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_uri.rsplit("/", 1)[0] + "/" + name
        finally:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster(
    root: Path, catalog_uri: str, endpoint: str, bucket: str, extra: list[str] | None = None
) -> dict[str, RunningServer]:
    """Start the four nodes at once on ``catalog_uri`` and the bucket; by node id."""
    shared = [
        "--catalog-uri", catalog_uri, "--object-store", "s3", "--bucket", bucket,
        "--s3-endpoint", endpoint, "--s3-region", REGION, "--s3-allow-http", *(extra or []),
    ]  # fmt: skip
    with ThreadPoolExecutor(len(ROLES)) as pool:
        futures = {
            node: pool.submit(
                start_server, root / node, "--mode", mode, "--node-id", node, *shared, timeout=120
            )
            for node, mode in ROLES.items()
        }
        return {node: future.result() for node, future in futures.items()}


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the S3 endpoint."""
    import pyarrow.fs as pafs

    filesystem = pafs.S3FileSystem(
        region=REGION, endpoint_override=endpoint, scheme="http", allow_bucket_creation=True
    )
    filesystem.create_dir(bucket)


def main() -> None:
    """Run the demo cluster until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--data", type=Path, default=None, help="folder for the nodes' data")
    args = parser.parse_args()
    for key, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_REGION", REGION)
    root = args.data or Path(tempfile.mkdtemp(prefix="flight-iox-cluster-"))
    with moto_server() as endpoint, fresh_database(args.postgres) as catalog_uri:
        bucket = "flight-iox-demo"
        make_bucket(endpoint, bucket)
        nodes = start_cluster(root, catalog_uri, endpoint, bucket)
        try:
            print(f"catalog {catalog_uri}, object store {endpoint}/{bucket}, data {root}")
            for node, server in nodes.items():
                print(f"  {node:4} {ROLES[node]:8} {server.http_url}  {server.flight_uri}")
            write, read = nodes["in1"].http_url, nodes["q1"].http_url
            print(f"try: curl -d 'cpu,host=a usage=1' '{write}/api/v3/write_lp?db=demo'")
            print(f"     curl '{read}/api/v3/query_sql?db=demo&q=SELECT+*+FROM+cpu'")
            print(f"     curl '{read}/api/v3/query_sql?db=demo&q=SELECT+*+FROM+system.nodes'")
            print("Ctrl-C stops the cluster")
            signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
            while all(s.process.poll() is None for s in nodes.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for server in nodes.values():
                server.stop()


if __name__ == "__main__":
    main()
