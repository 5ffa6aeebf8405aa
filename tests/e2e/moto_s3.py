"""A real S3-protocol endpoint on loopback (moto in server mode) for persistence tests.

The moto server runs in the test process on a thread; the flight-iox server
subprocess, PyIceberg and DataFusion all reach it over HTTP. Test modules
import ``moto_s3`` (the module-scoped fixture) and ``s3_flags``.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.fs as pafs
import pytest

from flight_iox.cluster_demo import fix_moto_multipart

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass(frozen=True)
class MotoS3:
    """Where the moto server listens and the bucket made for this module."""

    endpoint: str
    bucket: str

    def flags(self, endpoint: str | None = None, prefix: str = "") -> list[str]:
        """``flight-iox serve`` flags for this bucket (``endpoint`` overrides, e.g. a proxy)."""
        bucket = f"{self.bucket}/{prefix}" if prefix else self.bucket
        return [
            "--object-store", "s3", "--bucket", bucket,
            "--s3-endpoint", endpoint or self.endpoint,
            "--s3-region", REGION, "--s3-allow-http",
        ]  # fmt: skip

    def objects(self, prefix: str = "") -> list[str]:
        """Keys in the bucket under ``prefix`` (via pyarrow, as the server writes them)."""
        filesystem = s3_filesystem(self.endpoint)
        selector = pafs.FileSelector(f"{self.bucket}/{prefix}".rstrip("/"), recursive=True)
        return [
            info.path for info in filesystem.get_file_info(selector)
            if info.type == pafs.FileType.File
        ]  # fmt: skip


def s3_filesystem(endpoint: str, **options: object) -> pafs.S3FileSystem:
    """A pyarrow filesystem on the moto endpoint."""
    return pafs.S3FileSystem(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        endpoint_override=endpoint,
        scheme="http",
        **options,
    )


def _list_moto_modules_once() -> None:
    """moto's server lists its package folder on disk for every request it routes (twice, under
    a lock): about a tenth of its CPU in the S3-heavy tests. The list never changes."""
    from moto import backends

    if not hasattr(backends.list_of_moto_modules, "cache_info"):
        listed = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = functools.cache(lambda: listed)


def set_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard AWS variables the server subprocess reads its keys from."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    """A moto S3 server on 127.0.0.1 (free port) with one fresh bucket."""
    from moto.server import ThreadedMotoServer  # imported here: it takes a second to import

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fix_moto_multipart()
    _list_moto_modules_once()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"iox-{uuid.uuid4().hex[:12]}"
    s3_filesystem(endpoint, allow_bucket_creation=True).create_dir(bucket)
    try:
        yield MotoS3(endpoint, bucket)
    finally:
        server.stop()
